"""Headless Chromium for the live page's tests: the system's browser and chromedriver
(tests/install-chromium.sh installs them from the distribution's packages), driven by
selenium, which is never allowed to fetch a driver or a browser of its own."""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = ("chromium", "chromium-browser", "google-chrome")


class BrowserMissing(AssertionError):
    pass


def _executables() -> tuple[str, str]:
    browser = next((path for path in map(shutil.which, CHROMIUM) if path), None)
    driver = shutil.which("chromedriver")
    if browser is None or driver is None:
        raise BrowserMissing("Chromium and its chromedriver are needed: run tests/install-chromium.sh "
                             "as root (make test does), or install chromium and chromium-driver")
    return browser, driver


@contextmanager
def chromium(width: int = 1280, height: int = 900) -> Iterator[webdriver.Chrome]:
    browser, driver_path = _executables()
    # Selenium Manager would otherwise look for (and try to download) a driver.
    os.environ["SE_OFFLINE"] = "true"
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--no-first-run", "--disable-extensions", "--disable-background-networking",
                     f"--window-size={width},{height}"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def console_errors(driver: webdriver.Chrome) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]

"""The live page in a real headless Chromium, on a running node: it loads cleanly,
shows refusals within a second with the log line's reason and alert, a call's events
and their acknowledgements, a restart's new policy, and outlives the node's process."""
from __future__ import annotations

import logging
import socket
import ssl
import time

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests._browser import chromium, console_errors
from xsp.testing import RunningNode
from xsp.webex.client import RequestFailed

PROTOCOLS = "/Interface/CTI/CTIServer/SSLSettings/Protocols"
CIPHERS = "/Interface/CTI/CTIServer/SSLSettings/Ciphers"


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    """A running node with its live page, shared by the module."""
    with RunningNode.start(tmp_path_factory.mktemp("live"), live=True) as running:
        yield running


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium through its chromedriver, shared by the module."""
    with chromium() as driver:
        yield driver


@pytest.fixture
def page(node, browser):
    """The browser on the node's live page, once it shows the node live."""
    browser.get(node.live_url)
    wait_for(browser, lambda d: status(d) == "live" and listener(d, node) is not None,
             "the page to follow the node")
    return browser


def wait_for(driver, condition, what: str, timeout: float = 5.0):
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.05,
                             ignored_exceptions=(StaleElementReferenceException,)).until(condition)
    except Exception as exc:  # selenium's TimeoutException says nothing of the page
        raise AssertionError(f"waited {timeout} s for {what}; the page reads:\n"
                             f"{driver.find_element(By.TAG_NAME, 'body').text}") from exc


def status(driver) -> str:
    return driver.find_element(By.ID, "feed-status").get_attribute("data-state")


def listener(driver, node: RunningNode, port: int | None = None) -> str | None:
    """The listener's text (the CTI interface's unless ``port`` says another), read in one
    go: the page redraws it whenever the node changes."""
    return driver.execute_script(
        "const l = document.querySelector(`article.listener[data-interface='${arguments[0]}']`);"
        "return l ? l.innerText : null;", f"{node.host}:{port or node.port}")


def refuse_a_client_without_certificate(node: RunningNode) -> None:
    context = ssl.create_default_context(cafile=str(node.pki.partner_ca))
    context.check_hostname = False
    with socket.create_connection((node.host, node.port), timeout=5) as raw:
        try:
            with context.wrap_socket(raw) as tls:
                tls.recv(1)  # TLS 1.3: the refusal arrives after the client's Finished
        except (ssl.SSLError, ConnectionError):
            pass


def test_the_page_loads_with_no_console_errors_and_shows_the_listener(page, node):
    assert console_errors(page) == []
    shown = listener(page, node)
    # Issue 18's last items: the listener is named for the protocol 8012 speaks now.
    assert (f"{node.host}:{node.port} CTI interface (BroadWorks CTI interface protocol, XML messages)"
            in shown)
    assert "TLS, client certificate required; listening on" in shown
    assert "Protocols offered: TLSv1.2" in shown
    assert "-----BEGIN" not in page.page_source  # fingerprints, never PEMs


def test_a_refused_client_appears_within_a_second_with_the_reason_of_the_log_line(page, node, caplog):
    caplog.set_level(logging.WARNING, logger="xsp.cti")
    refuse_a_client_without_certificate(node)
    refused_at = time.monotonic()
    row = wait_for(page, lambda d: d.find_elements(By.CSS_SELECTOR, "#connections-body tr.refused"),
                   "the refusal", timeout=1.0)[0]
    assert time.monotonic() - refused_at < 1.0
    (line,) = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert row.get_attribute("title") == line
    reason = row.find_element(By.CSS_SELECTOR, ".reason").text
    alert = row.find_element(By.CSS_SELECTOR, ".alert").text
    assert f": {reason}; sent alert {alert}" in line
    assert row.find_element(By.CSS_SELECTOR, ".outcome").text == "✗ REFUSED"


def test_the_timeline_filters_by_outcome_and_words(page, node):
    with node.webex_client():
        pass
    refuse_a_client_without_certificate(node)
    wait_for(page, lambda d: d.find_elements(By.CSS_SELECTOR, "#connections-body tr.admitted")
             and d.find_elements(By.CSS_SELECTOR, "#connections-body tr.refused"), "both outcomes")
    page.find_element(By.CSS_SELECTOR, "#connections-outcome option[value=admitted]").click()
    visible = [r for r in page.find_elements(By.CSS_SELECTOR, "#connections-body tr") if r.is_displayed()]
    assert visible and all(r.get_attribute("data-outcome") == "admitted" for r in visible)
    assert "bwcticlient.webex.com" in visible[0].text and "TLSv1.2" in visible[0].text
    page.find_element(By.CSS_SELECTOR, "#connections-outcome option[value='']").click()
    page.find_element(By.ID, "connections-filter").send_keys("no client certificate")
    visible = [r for r in page.find_elements(By.CSS_SELECTOR, "#connections-body tr") if r.is_displayed()]
    assert visible and all(r.get_attribute("data-outcome") == "refused" for r in visible)


def test_a_simulated_calls_events_and_their_acknowledgements_appear(page, node):
    with node.webex_client() as client:
        client.subscribe("alice@example.com")
        wait_for(page, lambda d: "alice@example.com" in d.find_element(By.ID, "channels-body").text,
                 "the subscription")
        node.call("alice@example.com", "bob@example.com", answer_after=0.05, release_after=0.05)
        seen = []
        while seen[-2:] != ["CallReleasedEvent", "HookStatusEvent"]:  # back on hook
            seen.append(client.next_event(timeout=5).type)

        def all_acknowledged(driver):
            rows = driver.find_elements(By.CSS_SELECTOR, "#events-body tr")
            types = [r.find_element(By.CSS_SELECTOR, ".type").text for r in rows]
            done = all(r.get_attribute("data-acknowledged") == "yes" for r in rows)
            return rows if done and "CallReleasedEvent" in types else None

        rows = wait_for(page, all_acknowledged, "every event of the call acknowledged")
        types = [r.find_element(By.CSS_SELECTOR, ".type").text for r in rows]
        assert {"CallOriginatedEvent", "CallAnsweredEvent", "CallReleasedEvent"} <= set(types)
        ack = rows[0].find_element(By.CSS_SELECTOR, ".ack").text
        assert ack.startswith("✓ acknowledged after ") and ack.endswith(" ms")
        assert rows[0].find_element(By.CSS_SELECTOR, ".user").text == "alice@example.com"


def test_a_restart_updates_the_listeners_policy_on_the_page(page, node):
    node.cli(f"cd {PROTOCOLS}")
    node.cli(f"add {node.host} TLSv1.3")
    try:
        wait_for(page, lambda d: "Awaiting restart (1):" in d.find_element(By.ID, "nodes-body").text,
                 "the pending change")
        assert "Protocols offered: TLSv1.2\n" in listener(page, node)
        node.restart()
        # TLS 1.3 allowed, but the interface's only suite is a TLS 1.2 one: `emu effective`
        # says so, and so does the page.
        wait_for(page, lambda d: "TLSv1.3 is allowed but not offered: " in listener(d, node),
                 "the new policy")
        assert "Nothing awaits a restart." in page.find_element(By.ID, "nodes-body").text
        node.cli(f"cd {CIPHERS}")
        node.cli(f"add {node.host} TLS_AES_128_GCM_SHA256")
        node.restart()
        wait_for(page, lambda d: "Protocols offered: TLSv1.2, TLSv1.3" in listener(d, node),
                 "TLS 1.3 offered")
        assert "Cipher suites: 2 of 2 negotiable" in listener(page, node)
        assert status(page) == "live"  # the page never lost the node
    finally:
        node.cli(f"cd {CIPHERS}")
        node.cli(f"delete {node.host} TLS_AES_128_GCM_SHA256", check=False)
        node.cli(f"cd {PROTOCOLS}")
        node.cli(f"delete {node.host} TLSv1.3")
        node.restart()


def test_the_page_survives_the_node_restarting(page, node):
    refuse_a_client_without_certificate(node)
    wait_for(page, lambda d: d.find_elements(By.CSS_SELECTOR, "#connections-body tr.refused"),
             "a refusal on the old node", timeout=1.0)
    node.restart_process()
    # The new process starts with an empty timeline: the page shows its snapshot.
    wait_for(page, lambda d: status(d) == "live" and listener(d, node) is not None
             and not d.find_elements(By.CSS_SELECTOR, "#connections-body tr"),
             "the page to follow the new node", timeout=10)
    refuse_a_client_without_certificate(node)
    wait_for(page, lambda d: d.find_elements(By.CSS_SELECTOR, "#connections-body tr.refused"),
             "a refusal on the new node", timeout=1.0)


def test_the_page_fits_a_phone_width(node):
    with chromium(width=390, height=844) as phone:
        phone.get(node.live_url)
        wait_for(phone, lambda d: status(d) == "live", "the page to follow the node")
        assert phone.execute_script(
            "return document.documentElement.scrollWidth <= window.innerWidth") is True
        assert console_errors(phone) == []


def refused_request_row(page, node: RunningNode, words: str, **client: str):
    """The timeline's row of a Webex client refused after its handshake: its CN is taken
    out of ClientIdentity for the one request, and put back."""
    node.cli("cd /System/ClientIdentity", node="as1")
    node.cli("delete bwcticlient.webex.com", node="as1")
    try:
        with pytest.raises(RequestFailed, match="403"):
            node.webex_client(**client)
        return wait_for(page, lambda d: [r for r in d.find_elements(
            By.CSS_SELECTOR, "#connections-body tr.refused") if words in r.text],
            "the refused request", timeout=1.0)[0]
    finally:
        node.cli("add bwcticlient.webex.com", node="as1")


def test_a_request_refused_after_the_handshake_appears_with_its_http_status(page, node, caplog):
    caplog.set_level(logging.WARNING, logger="xsp.cti")
    if node.xsi_port is None:
        node.enable_xsi()  # the HTTP refusal is the Xsi interface's; 8012 speaks CTI
    row = refused_request_row(page, node, "HTTP 403", transport="http")
    (line,) = [r.getMessage() for r in caplog.records if "(HTTP 403)" in r.getMessage()]
    assert row.get_attribute("title") == line
    assert row.find_element(By.CSS_SELECTOR, ".reason").text == (
        "Client identity bwcticlient.webex.com is not in AS_CLI/System/ClientIdentity")
    assert row.find_element(By.CSS_SELECTOR, ".alert").text == "none: HTTP 403 after the handshake"
    assert row.find_element(By.CSS_SELECTOR, ".subject").text == "bwcticlient.webex.com"


def test_the_xsi_interface_is_a_listener_of_its_own_with_its_policy(page, node):
    port = node.xsi_port or node.enable_xsi()
    xsi = wait_for(page, lambda d: listener(d, node, port), "the Xsi interface listener")
    assert (f"{node.host}:{port} Xsi interface (HTTP Xsi-Events, and the emulator's WebSocket mapping)"
            in xsi)
    assert "Protocols offered: TLSv1.2" in xsi and "Cipher suites: 1 of 1 negotiable" in xsi
    assert "CTI interface (BroadWorks CTI interface protocol" in listener(page, node)


def test_a_request_refused_on_the_cti_interface_shows_what_the_cti_interface_answered(page, node, caplog):
    caplog.set_level(logging.WARNING, logger="xsp.cti")
    row = refused_request_row(page, node, "status 403")  # the CTI interface, as Webex connects
    (line,) = [r.getMessage() for r in caplog.records if "status 403)" in r.getMessage()]
    assert row.get_attribute("title") == line
    assert row.find_element(By.CSS_SELECTOR, ".alert").text == (
        "none: the CTI interface answered status 403 after the handshake")
    assert "HTTP" not in row.text

"""A CUCM node on the live page: added to a running node with its page, configured for
a secure CTI application through its own admin: CLI, then used by the JTAPI-like
client. Read from /snapshot.json (the feed's JSON) and in a real headless Chromium."""
from __future__ import annotations

import json
import urllib.request

import pytest
from cryptography import x509
from selenium.webdriver.common.by import By

import xsp_trust as trust
from tests._browser import chromium, console_errors
from tests.test_live_browser import status, wait_for
from xsp.cli.cucm_engine import CucmEngine
from xsp.cli.engine import Engine
from xsp.cucm import jtapi
from xsp.cucm.procedure import SecureCtiSetup
from xsp.testing import CommandFailed, RunningNode

SETUP = SecureCtiSetup()
NODE = "cucm1"


class Cucm:
    """The CUCM node of a running node: its admin: CLI and a JTAPI-like client's options."""

    def __init__(self, node: RunningNode, base) -> None:
        self.node, self.base = node, base
        self.engine = CucmEngine(node.store, NODE, node._control)

    def cli(self, *lines: str) -> None:
        for line in lines:
            result = self.engine.execute(line)
            if not result.ok:
                raise CommandFailed(f"admin:{line}: {result.text}")

    def runtime(self):
        return self.node._thread.host.cucm[NODE]

    def jtapi(self, *, secure: bool = True, user: str | None = None) -> jtapi.CtiConnection:
        r = self.runtime()
        return jtapi.start(jtapi.JtapiOptions(
            user=user or (SETUP.secure_user if secure else SETUP.plain_user), password=SETUP.password,
            directory=self.base / ("jtapi-secure" if secure else "jtapi-plain"), host=r.tftp_host,
            tftp_port=r.tftp.port, capf_port=r.capf.port, cti_port=r.cti.port,
            cti_tls_port=r.cti_tls.port, secure=secure, instance_id=SETUP.instance_id,
            auth_string=SETUP.auth_string, devices=(SETUP.phone,)))


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    """An emulated XSP configured for Webex with its live page, shared by this module's tests."""
    with RunningNode.start(tmp_path_factory.mktemp("live-cucm"), live=True) as running:
        yield running


@pytest.fixture(scope="module")
def cucm(node, tmp_path_factory):
    """`emu addnode cucm1 CUCM` on the running node, its services on free ports, the
    secure CTI set-up's lines, and the restart that starts its services."""
    result = Engine(node.store, None, node._control).execute(f"emu addnode {NODE} CUCM")
    assert result.ok, result.text
    added = Cucm(node, tmp_path_factory.mktemp("jtapi"))
    added.cli(*(f"emu set-port {s} 0" for s in ("tftp", "http", "capf", "cti", "cti-tls")))
    added.cli(*(line for _, line in SETUP.lines()), "emu restart")
    return added


def cucm_of(node: RunningNode) -> dict:
    with urllib.request.urlopen(node.live_url + "snapshot.json", timeout=5) as answer:
        found = json.loads(answer.read())
    return next(c for c in found["cucm"] if c["name"] == NODE)


def fingerprint(pem: str) -> str:
    return trust.describe(x509.load_pem_x509_certificate(pem.encode())).sha256_colons


def test_the_cucm_view_has_security_mode_ctl_capf_and_services_and_nothing_secret(node, cucm):
    view = cucm_of(node)
    settings = node.store.load().node(NODE).cucm_settings
    callmanager = fingerprint(settings.certificate("CallManager").cert_pem)
    assert (view["running"], view["mixed_mode"], view["tls_min_version"], view["pending_restart"]) == (
        True, True, "1.2", [])
    ctl = view["ctl"]
    assert (ctl["file"], ctl["verified"]) == ("CTLFile.tlv", True)
    assert [r["role"] for r in ctl["records"]] == [
        "SAST", "SAST", "CCM+TFTP", "CAPF"]
    assert ctl["records"][0]["sha256"] == callmanager
    assert ctl["signer_subject"] == ctl["records"][0]["subject"]
    assert ctl["signer_serial"] == ctl["records"][0]["serial"]
    assert view["itl"]["file"] == "ITLFile.tlv" and view["itl"]["verified"]
    (profile,) = view["capf_profiles"]
    assert profile == {"kind": "Application User", "name": SETUP.instance_id, "user": SETUP.secure_user,
                       "operation": "Install/Upgrade", "status": "Operation Pending",
                       "completes_by": profile["completes_by"], "certificate": None}
    assert [p["name"] for p in view["phones"]] == [SETUP.phone]
    runtime = cucm.runtime()
    assert [(s["name"], s["transport"], s["port"], s["listening"]) for s in view["services"]] == [
        ("Cisco TFTP", "udp", runtime.tftp.port, True), ("TFTP over HTTP", "tcp", runtime.http_port, True),
        ("Cisco CAPF", "tcp", runtime.capf.port, True), ("CTIManager", "tcp", runtime.cti.port, True),
        ("CTIManager TLS", "tcp", runtime.cti_tls.port, True)]
    text = json.dumps(view)
    assert "-----BEGIN" not in text and "authentication_string" not in text
    assert f'"{SETUP.auth_string}"' not in text


def test_an_open_provider_and_its_device_appear_and_go_with_the_connection(node, cucm):
    connection = cucm.jtapi()
    try:
        (provider,) = cucm_of(node)["providers"]
        assert {k: provider[k] for k in ("user", "instance", "port", "tls", "devices")} == {
            "user": SETUP.secure_user, "instance": SETUP.instance_id, "port": cucm.runtime().cti_tls.port,
            "tls": True, "devices": [SETUP.phone]}
        (profile,) = cucm_of(node)["capf_profiles"]
        lsc = profile["certificate"]
        assert profile["status"] == "Upgrade Success" and lsc["compromised"] is False
        assert lsc["sha256"] and lsc["serial"]
        with urllib.request.urlopen(node.live_url + "snapshot.json", timeout=5) as answer:
            found = json.loads(answer.read())
        where = f"{NODE} CTIManager 127.0.0.1:{cucm.runtime().cti_tls.port}"
        admitted = [e for e in found["timeline"] if e["listener"] == where and e["outcome"] == "admitted"]
        assert [(e["subject"], e["protocol"]) for e in admitted] == [(SETUP.instance_id, "TLSv1.3")]
        assert next(n for n in found["nodes"] if n["name"] == NODE)["running"] is True
    finally:
        connection.close()
    wait_until(lambda: cucm_of(node)["providers"] == [], "the provider to close")


def test_a_ctimanager_refusal_is_on_the_timeline_with_its_cti_error_and_words(node, cucm):
    with pytest.raises(jtapi.JtapiError):
        cucm.jtapi(secure=False, user=SETUP.secure_user)  # a secure user on 2748
    with urllib.request.urlopen(node.live_url + "snapshot.json", timeout=5) as answer:
        timeline = json.loads(answer.read())["timeline"]
    (entry,) = [e for e in timeline if e["cti_error"]]
    assert (entry["outcome"], entry["subject"], entry["cti_error"], entry["cti_words"]) == (
        "refused", SETUP.secure_user, "0x8CCC00E1",
        "Initialization failed - security configuration does not match with Unified CM TSP")
    assert entry["listener"] == f"{NODE} CTIManager 127.0.0.1:{cucm.runtime().cti.port}"
    assert entry["reason"].startswith(f"{SETUP.secure_user} is in 'Standard CTI Secure Connection'")
    assert entry["log_line"].endswith(f"0x8CCC00E1 {entry['reason']}")


def wait_until(condition, what: str, timeout: float = 3.0) -> None:
    import time
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"waited {timeout} s for {what}"
        time.sleep(0.05)


# --- in the browser ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser():
    """Headless Chromium driven by Selenium, shared by this module's browser tests."""
    with chromium() as driver:
        yield driver


def section(driver) -> str:
    return driver.find_element(By.ID, "cucm").text


def test_the_page_follows_the_cucm_node(node, cucm, browser):
    browser.get(node.live_url)
    wait_for(browser, lambda d: status(d) == "live" and "mixed mode" in section(d), "the CUCM section")
    text = section(browser)
    assert "Cluster security: mixed mode; TLS 1.2 and up" in text
    assert "✓ CTIManager TLS tcp 127.0.0.1:" in text and "No open provider." in text
    assert "CTL CTLFile.tlv: 4 record(s), signed by SAST" in text and "✓ signature verified" in text
    assert "-----BEGIN" not in browser.page_source
    connection = cucm.jtapi()
    try:
        wait_for(browser, lambda d: f"(instance {SETUP.instance_id})" in section(d), "the provider")
        assert (f"{SETUP.secure_user} (instance {SETUP.instance_id}) from 127.0.0.1:" in section(browser)
                and f"TLS; devices in service: {SETUP.phone}" in section(browser))
    finally:
        connection.close()
    wait_for(browser, lambda d: "No open provider." in section(d), "the provider gone")
    cucm.cli("utils ctl set-cluster non-secure-mode", "y")
    try:
        wait_for(browser, lambda d: "Awaiting restart (1):" in section(d), "the pending change")
        cucm.cli("emu restart")
        wait_for(browser, lambda d: "Cluster security: non-secure mode" in section(d)
                 and "Nothing awaits a restart." in section(d), "non-secure mode")
    finally:
        cucm.cli("utils ctl set-cluster mixed-mode", "y", "emu restart")
    with pytest.raises(jtapi.JtapiError):
        cucm.jtapi(secure=False, user=SETUP.secure_user)
    row = wait_for(browser, lambda d: [r for r in d.find_elements(By.CSS_SELECTOR, "#connections-body tr.refused")
                                       if "0x8CCC00E1" in r.text], "the CTIManager refusal", timeout=1.0)[0]
    assert row.find_element(By.CSS_SELECTOR, ".alert").text == (
        "none: CTI error 0x8CCC00E1 Initialization failed - security configuration does not match "
        "with Unified CM TSP")
    assert console_errors(browser) == []


def test_the_cucm_section_fits_a_phone_width(node, cucm):
    with chromium(width=390, height=844) as phone:
        phone.get(node.live_url)
        wait_for(phone, lambda d: status(d) == "live" and "mixed mode" in section(d), "the CUCM section")
        assert phone.execute_script(
            "return document.documentElement.scrollWidth <= window.innerWidth") is True


# --- the view alone, on a state ---------------------------------------------------------

def test_a_stopped_non_secure_node_has_no_ctl_and_says_why_each_service_is_silent(tmp_path):
    from tests._cucm_support import add_cucm_node
    from xsp.config.store import Store
    from xsp.live.cucmviews import cucm_view
    store = Store(tmp_path / "state")
    add_cucm_node(store, mixed=False)
    view = cucm_view(store.load().node(NODE), store, None)
    assert (view.running, view.mixed_mode, view.ctl, view.itl, view.providers) == (
        False, False, None, None, [])
    assert {(s.name, s.listening, s.problem) for s in view.services} == {
        (name, False, "the node is not running")
        for name in ("Cisco TFTP", "TFTP over HTTP", "Cisco CAPF", "CTIManager", "CTIManager TLS")}


def test_a_ctl_that_cannot_be_read_is_shown_with_the_reason(tmp_path):
    from tests._cucm_support import add_cucm_node
    from xsp.config.store import Store
    from xsp.cucm.platform import ctl_path
    from xsp.live.cucmviews import cucm_view
    store = Store(tmp_path / "state")
    add_cucm_node(store)
    ctl_path(store, NODE).write_bytes(b"\x01\x00\x02")
    view = cucm_view(store.load().node(NODE), store, None)
    assert view.ctl is not None
    assert (view.ctl.records, view.ctl.verified, view.ctl.problem) == (
        [], False, "truncated: 3 bytes cannot hold a header")

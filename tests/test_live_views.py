"""What the live page says about a running node, read over HTTP from /snapshot.json:
the `emu effective` facts, fingerprints instead of PEMs, what awaits a restart."""
from __future__ import annotations

import json
import time
import urllib.request

import pytest
from cryptography import x509

import xsp_trust as trust
from xsp.testing import RunningNode


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    """A running node with its live page, shared by the module."""
    with RunningNode.start(tmp_path_factory.mktemp("views"), live=True) as running:
        yield running


def snapshot(node: RunningNode) -> dict:
    with urllib.request.urlopen(node.live_url + "snapshot.json", timeout=5) as answer:
        return json.loads(answer.read())


def xsp1(found: dict) -> dict:
    return next(n for n in found["nodes"] if n["name"] == "xsp1")


def fingerprint(path) -> str:
    return trust.describe(x509.load_pem_x509_certificate(path.read_bytes())).sha256_colons


def test_the_listener_shows_the_effective_policy_and_the_certificate_by_fingerprint(node):
    found = snapshot(node)
    (listener,) = xsp1(found)["listeners"]
    assert (listener["interface"], listener["address"], listener["port"], listener["listening"],
            listener["secure"], listener["client_certificate_required"]) == (
        f"127.0.0.1:{node.port}", "127.0.0.1", node.port, True, True, True)
    assert listener["protocols"] == ["TLSv1.2"] and listener["not_offered"] == []
    assert listener["suites"] == [{"iana": "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                                   "openssl": "ECDHE-RSA-AES128-GCM-SHA256", "negotiable": True,
                                   "protocols": ["TLSv1.2"], "reason": None}]
    assert listener["certificate"]["sha256"] == fingerprint(node.pki.server_cert)
    anchors = {a["alias"]: a["certificate"]["sha256"] for a in xsp1(found)["trust_anchors"]}
    assert anchors == {"webexclientroot2023": fingerprint(node.pki.webex_root),
                       "webexclientissuing2023": fingerprint(node.pki.webex_issuing)}
    as1 = next(n for n in found["nodes"] if n["name"] == "as1")
    assert as1["client_identities"] == ["bwcticlient.webex.com"]


def test_nothing_secret_is_in_the_feed(node):
    text = json.dumps(snapshot(node))
    key = node.pki.server_key.read_text()
    assert "-----BEGIN" not in text and "PRIVATE" not in text
    assert not any(line in text for line in key.splitlines()[1:-1])


def test_what_awaits_a_restart_appears_without_one_and_goes_with_it(node):
    node.cli("cd /Interface/CTI/CTIServer/SSLSettings/Protocols")
    node.cli(f"add {node.host} TLSv1.3")
    try:
        deadline = time.monotonic() + 2
        while not xsp1(snapshot(node))["pending_restart"]:
            assert time.monotonic() < deadline, "the pending change never appeared"
            time.sleep(0.1)
        assert xsp1(snapshot(node))["pending_restart"] == [
            f"Interface/CTI/CTIServer/SSLSettings/Protocols> add {node.host} TLSv1.3"]
        node.restart()
        (listener,) = xsp1(snapshot(node))["listeners"]
        assert xsp1(snapshot(node))["pending_restart"] == []
        # As `emu effective` says it: allowed, but the interface's only suite is TLS 1.2's.
        assert listener["not_offered"] == [{"name": "TLSv1.3",
                                            "reason": "no TLS 1.3 suite is configured"}]
    finally:
        node.cli(f"delete {node.host} TLSv1.3")
        node.restart()


def test_each_listener_is_named_for_what_it_speaks(node):
    """Last in the module: it leaves the node with its Xsi interface."""
    port = node.xsi_port or node.enable_xsi()
    deadline = time.monotonic() + 2
    while len(xsp1(snapshot(node))["listeners"]) < 2:
        assert time.monotonic() < deadline, "the Xsi interface never appeared"
        time.sleep(0.1)
    kinds = {(l["interface"], l["kind"], l["listening"]) for l in xsp1(snapshot(node))["listeners"]}
    assert kinds == {
        (f"127.0.0.1:{node.port}", "CTI interface (BroadWorks CTI interface protocol, XML messages)", True),
        (f"127.0.0.1:{port}", "Xsi interface (HTTP Xsi-Events, and the emulator's WebSocket mapping)", True)}

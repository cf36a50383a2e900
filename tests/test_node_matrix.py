"""End to end, driven by the BroadWorks configuration: a state configured by the guide's
procedure (demo PKI, split Webex CA bundle, sslUpdate, ``emu restart``) and served by a
``NodeThread`` on a free loopback port. Which protocol versions and suites handshake,
which client certificates are refused with which TLS alert (read on the client side),
the HTTP refusals after the handshake, and one plain log line on ``xsp.cti`` per
refusal, naming the client by its own port.

Two read-only nodes serve most tests: ``tls12`` is the guide as written (TLSv1.2 and
TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 on the interface); ``tls13`` adds TLSv1.3 and
TLS_AES_128_GCM_SHA256. Both have one more trust anchor beside the two Webex ones, the
test CA whose expired, not-yet-valid and unknown-identity clients need a trusted
issuer to get past the chain check. Tests that change the configuration get a node of
their own.
"""
from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

import xsp_trust as trust
from tests._scan import client_certificate_required, scan
from tests._node_support import (CERT_AUTH, CIPHERS, HOST, NODE, PROTOCOLS, TRUSTS,
                                 ConfiguredNode, MatrixPKI, attempt, capture, client_context,
                                 configured_node, lines_about, make_pki)
from xsp.webex.received import ErrorReply, read_document
from xsp.procedure import WEBEX_CLIENT_CN
from xsp.tls.effective import plan_for
from xsp.webex.client import RequestFailed, WebexClient, tls_context

TLS13_SUITE = "TLS_AES_128_GCM_SHA256"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> MatrixPKI:
    """The certificates of the matrix (``make_pki``), made once for the module."""
    return make_pki(tmp_path_factory.mktemp("node-matrix-pki"))


@pytest.fixture(scope="module")
def tls12(tmp_path_factory: pytest.TempPathFactory, pki: MatrixPKI) -> Iterator[ConfiguredNode]:
    """A node configured by the guide's procedure (TLS 1.2), shared by the module."""
    with configured_node(tmp_path_factory.mktemp("tls12"), pki) as node:
        yield node


@pytest.fixture(scope="module")
def tls13(tmp_path_factory: pytest.TempPathFactory, pki: MatrixPKI) -> Iterator[ConfiguredNode]:
    """A node configured by the guide's procedure with TLS 1.3 and one TLS 1.3 suite added."""
    extra = (f"cd {PROTOCOLS}", f"add {HOST} TLSv1.3", f"cd {CIPHERS}", f"add {HOST} {TLS13_SUITE}")
    with configured_node(tmp_path_factory.mktemp("tls13"), pki, extra=extra) as node:
        yield node


def refusal_line(node: ConfiguredNode, client_port: int, reason: str, alert: str, *,
                 certificate: bool = True) -> str:
    who = f"{HOST}:{client_port}" + (f" (certificate CN={WEBEX_CLIENT_CN})" if certificate else "")
    return f"CTI {NODE} {HOST}:{node.port}: refused {who}: {reason}; sent alert {alert}"


def utc(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


# -- the Webex client ------------------------------------------------------------------------
def test_the_webex_client_sending_its_leaf_alone_is_accepted_and_gets_call_subscription_event(
        tls12: ConfiguredNode, pki: MatrixPKI) -> None:
    """The demo Webex client, as ``tls_context`` loads it (no chain: the issuing CA is an
    anchor), opens a channel, subscribes, and its first event names it by its CN."""
    async def scenario() -> None:
        context = tls_context(str(pki.demo.webex_client_cert), str(pki.demo.webex_client_key),
                              str(pki.demo.partner_ca))
        async with WebexClient(HOST, tls12.port, ssl_context=context) as client:
            subscription = await client.subscribe("alice@example.com")
            first = await asyncio.wait_for(anext(client.events().__aiter__()), 5)
            assert (first.type, first.client_id, first.target_id, first.subscription_id,
                    first.sequence_number, first.fields["hookStatus"]) == (
                "CallSubscriptionEvent", WEBEX_CLIENT_CN, "alice@example.com", subscription,
                1, "On-Hook")
    asyncio.run(scenario())


# -- protocol versions -------------------------------------------------------------------------
VERSION_REFUSALS = {
    "TLSv1": "client offered TLSv1 at most; allowed: {allowed}",
    "TLSv1.1": "client offered TLSv1.1 at most; allowed: {allowed}",
    "TLSv1.3": "client offered only TLSv1.3; allowed: {allowed}",
}


@pytest.mark.parametrize("node_name, version, served", [
    ("tls12", "TLSv1", False), ("tls12", "TLSv1.1", False),
    ("tls12", "TLSv1.2", True), ("tls12", "TLSv1.3", False),
    ("tls13", "TLSv1.1", False), ("tls13", "TLSv1.2", True), ("tls13", "TLSv1.3", True),
])
def test_only_the_effective_protocol_versions_handshake_others_get_protocol_version(
        request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture, pki: MatrixPKI,
        node_name: str, version: str, served: bool) -> None:
    capture(caplog)
    node: ConfiguredNode = request.getfixturevalue(node_name)
    outcome = attempt(node.port, client_context(pki, pki.webex_leaf(), version=version))
    if served:
        assert (outcome.alert, outcome.version, outcome.status) == (None, version, 404)
        return
    assert outcome.alert == "TLSV1_ALERT_PROTOCOL_VERSION"
    allowed = "TLSv1.2" if node_name == "tls12" else "TLSv1.2, TLSv1.3"
    reason = VERSION_REFUSALS[version].format(allowed=allowed)
    assert lines_about(caplog, outcome.client_port) == [
        refusal_line(node, outcome.client_port, reason, "protocol_version", certificate=False)]


def test_tls13_with_a_tls13_suite_is_refused_until_a_restart_applies_it(
        tmp_path: Path, pki: MatrixPKI) -> None:
    """The guide's interface is TLSv1.2 only; adding TLSv1.3 and a TLS 1.3 suite changes
    nothing until ``emu restart``, after which a TLSv1.3-only client is served."""
    with configured_node(tmp_path, pki, test_anchor=False) as node:
        tls13_only = client_context(pki, pki.webex_leaf(), version="TLSv1.3")
        assert attempt(node.port, tls13_only).alert == "TLSV1_ALERT_PROTOCOL_VERSION"
        node.run(f"cd {PROTOCOLS}", f"add {HOST} TLSv1.3", f"cd {CIPHERS}",
                 f"add {HOST} {TLS13_SUITE}")
        assert attempt(node.port, tls13_only).alert == "TLSV1_ALERT_PROTOCOL_VERSION"
        node.restart()
        outcome = attempt(node.port, tls13_only)
        assert (outcome.alert, outcome.version, outcome.cipher, outcome.status) == (
            None, "TLSv1.3", TLS13_SUITE, 404)


# -- cipher suites -----------------------------------------------------------------------------
def test_the_interface_s_suite_is_negotiated_by_a_client_offering_only_it(
        tls12: ConfiguredNode, pki: MatrixPKI) -> None:
    outcome = attempt(tls12.port, client_context(pki, pki.webex_leaf(), version="TLSv1.2",
                                                 ciphers="ECDHE-RSA-AES128-GCM-SHA256"))
    assert (outcome.alert, outcome.cipher, outcome.status) == (
        None, "ECDHE-RSA-AES128-GCM-SHA256", 404)


def test_a_suite_configured_only_at_system_level_is_refused_with_handshake_failure(
        tls12: ConfiguredNode, pki: MatrixPKI, caplog: pytest.LogCaptureFixture) -> None:
    """TLS_DHE_RSA_WITH_AES_128_GCM_SHA256 is a BroadWorks default at System level and an
    RSA server could serve it, but the interface's own cipher list is the effective one."""
    capture(caplog)
    system = tls12.run("cd /System/SSLCommonSettings/JSSE/Ciphers", "get")
    assert "  TLS_DHE_RSA_WITH_AES_128_GCM_SHA256\n" in system
    outcome = attempt(tls12.port, client_context(pki, pki.webex_leaf(), version="TLSv1.2",
                                                 ciphers="DHE-RSA-AES128-GCM-SHA256"))
    assert outcome.alert == "SSLV3_ALERT_HANDSHAKE_FAILURE"
    assert lines_about(caplog, outcome.client_port) == [refusal_line(
        tls12, outcome.client_port,
        "no cipher suite in common: client offered DHE-RSA-AES128-GCM-SHA256; "
        "allowed: ECDHE-RSA-AES128-GCM-SHA256", "handshake_failure", certificate=False)]


@pytest.mark.parametrize("suite, served", [(TLS13_SUITE, True), ("TLS_AES_256_GCM_SHA384", False)])
def test_tls13_negotiates_the_configured_suite_and_refuses_an_openssl_default_that_is_not(
        tls13: ConfiguredNode, pki: MatrixPKI, caplog: pytest.LogCaptureFixture,
        suite: str, served: bool) -> None:
    capture(caplog)
    outcome = attempt(tls13.port, client_context(pki, pki.webex_leaf(), version="TLSv1.3",
                                                 tls13_suites=[suite]))
    if served:
        assert (outcome.alert, outcome.cipher, outcome.status) == (None, suite, 404)
        return
    assert outcome.alert == "SSLV3_ALERT_HANDSHAKE_FAILURE"
    assert lines_about(caplog, outcome.client_port) == [refusal_line(
        tls13, outcome.client_port,
        f"no cipher suite in common: client offered {suite}; allowed: {TLS13_SUITE}",
        "handshake_failure", certificate=False)]


# -- client certificates -----------------------------------------------------------------------
def _certificate_case(pki: MatrixPKI, case: str) -> tuple[trust.IssuedCert | None, str]:
    """The client's credential and the node's reason for refusing it."""
    if case == "no certificate":
        return None, "no client certificate presented"
    if case == "expired":
        return pki.expired, (f"client certificate expired "
                             f"(notAfter {utc(pki.expired.certificate.not_valid_after_utc)})")
    if case == "not yet valid":
        return pki.not_yet_valid, (
            "client certificate not yet valid "
            f"(notBefore {utc(pki.not_yet_valid.certificate.not_valid_before_utc)})")
    if case == "unknown CA":
        return pki.unknown_ca, "unknown CA: issuer CN=Stranger Root is not a trust anchor"
    if case == "CA with the anchor's name and another key":
        # The impostor sends its chain; both its CAs carry Webex CA names, and the one
        # the node names is the top of that chain.
        return pki.impostor, ("unknown CA: issuer CN=Internal Private Root has the name of a "
                              "trust anchor but not its key (a re-keyed or impostor CA)")
    assert case == "self-signed"
    return pki.self_signed, (f"self-signed client certificate CN={WEBEX_CLIENT_CN} "
                             "is not a trust anchor")


@pytest.mark.parametrize("case, version, client_alert, sent_alert", [
    ("no certificate", "TLSv1.2", "SSLV3_ALERT_HANDSHAKE_FAILURE", "handshake_failure"),
    ("no certificate", "TLSv1.3", "TLSV13_ALERT_CERTIFICATE_REQUIRED", "certificate_required"),
    ("expired", "TLSv1.2", "SSLV3_ALERT_CERTIFICATE_EXPIRED", "certificate_expired"),
    ("expired", "TLSv1.3", "SSLV3_ALERT_CERTIFICATE_EXPIRED", "certificate_expired"),
    # OpenSSL has no alert of its own for a certificate that is not valid yet.
    ("not yet valid", "TLSv1.2", "SSLV3_ALERT_BAD_CERTIFICATE", "bad_certificate"),
    ("not yet valid", "TLSv1.3", "SSLV3_ALERT_BAD_CERTIFICATE", "bad_certificate"),
    ("unknown CA", "TLSv1.2", "TLSV1_ALERT_UNKNOWN_CA", "unknown_ca"),
    ("unknown CA", "TLSv1.3", "TLSV1_ALERT_UNKNOWN_CA", "unknown_ca"),
    ("CA with the anchor's name and another key", "TLSv1.2", "TLSV1_ALERT_UNKNOWN_CA", "unknown_ca"),
    ("CA with the anchor's name and another key", "TLSv1.3", "TLSV1_ALERT_UNKNOWN_CA", "unknown_ca"),
    ("self-signed", "TLSv1.2", "TLSV1_ALERT_UNKNOWN_CA", "unknown_ca"),
    ("self-signed", "TLSv1.3", "TLSV1_ALERT_UNKNOWN_CA", "unknown_ca"),
])
def test_a_refused_client_certificate_gets_its_alert_and_one_log_line_with_the_reason(
        request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture, pki: MatrixPKI,
        case: str, version: str, client_alert: str, sent_alert: str) -> None:
    capture(caplog)
    node: ConfiguredNode = request.getfixturevalue("tls12" if version == "TLSv1.2" else "tls13")
    credential, reason = _certificate_case(pki, case)
    before = node.refusals
    outcome = attempt(node.port, client_context(pki, credential, version=version))
    assert outcome.alert == client_alert
    assert lines_about(caplog, outcome.client_port) == [refusal_line(
        node, outcome.client_port, reason, sent_alert, certificate=credential is not None)]
    assert node.refusals == before + 1


def test_an_issuing_ca_anchored_without_its_root_vouches_for_its_clients(
        tls12: ConfiguredNode, pki: MatrixPKI) -> None:
    """Partial chains count: the test anchor is an issuing CA whose root is no anchor."""
    outcome = attempt(tls12.port, client_context(pki, trust.IssuedCert(
        pki.partial_chain.certificate, pki.partial_chain.private_key)))  # the leaf alone
    assert (outcome.alert, outcome.status) == (None, 404)


# -- after the handshake: ClientIdentity and allowClientApp ------------------------------------
def test_a_trusted_certificate_whose_cn_is_not_a_client_identity_gets_403_error_info(
        tls12: ConfiguredNode, pki: MatrixPKI, caplog: pytest.LogCaptureFixture) -> None:
    capture(caplog)
    outcome = attempt(tls12.port, client_context(pki, pki.intruder))
    summary = "Client identity intruder.example.com is not in AS_CLI/System/ClientIdentity"
    assert (outcome.alert, outcome.version, outcome.status) == (None, "TLSv1.2", 403)
    assert read_document(outcome.body) == ErrorReply(summary, 40302)
    assert lines_about(caplog, outcome.client_port) == [
        f"CTI {NODE} {HOST}:{tls12.port}: refused intruder.example.com from "
        f"{HOST}:{outcome.client_port}: {summary} (GetChannelSetRequest, status 403)"]


def test_allow_client_app_false_refuses_the_webex_client_with_403_at_once_without_restart(
        tmp_path: Path, pki: MatrixPKI, caplog: pytest.LogCaptureFixture) -> None:
    capture(caplog)
    summary = ("Certificate authentication of client applications is disabled "
               "(CertificateAuthentication allowClientApp is false)")
    with configured_node(tmp_path, pki, test_anchor=False) as node:
        node.run(f"cd {CERT_AUTH}", "set allowClientApp false")
        outcome = attempt(node.port, client_context(pki, pki.webex_leaf()))
        assert (outcome.alert, outcome.status) == (None, 403)
        assert read_document(outcome.body) == ErrorReply(summary, 40301)
        assert lines_about(caplog, outcome.client_port) == [
            f"CTI {NODE} {HOST}:{node.port}: refused {WEBEX_CLIENT_CN} from "
            f"{HOST}:{outcome.client_port}: {summary} (GetChannelSetRequest, status 403)"]

        async def webex() -> RequestFailed:
            context = tls_context(str(pki.demo.webex_client_cert),
                                  str(pki.demo.webex_client_key), str(pki.demo.partner_ca))
            with pytest.raises(RequestFailed) as failed:
                async with WebexClient(HOST, node.port, ssl_context=context, request_timeout=5):
                    pass
            return failed.value
        failure = asyncio.run(webex())
        assert (failure.status, failure.error_code, str(failure)) == (
            403, 40301, f"open channel: status 403: {summary}")


# -- trust anchors -----------------------------------------------------------------------------
def test_without_the_issuing_anchor_a_leaf_alone_is_refused_and_a_client_sending_its_chain_accepted(
        tmp_path: Path, pki: MatrixPKI, caplog: pytest.LogCaptureFixture) -> None:
    """After the guide's procedure alone, the Webex leaf is accepted without its chain
    (the issuing CA is an anchor, and partial chains count). Once webexclientissuing2023
    is deleted and the node restarted, that leaf is refused (unknown_ca), while the same
    client sending the issuing CA in its chain reaches the root anchor and is served."""
    capture(caplog)
    leaf_only = client_context(pki, pki.webex_leaf())
    with_chain = client_context(pki, (*pki.webex_leaf(), pki.demo.webex_client_chain))
    with configured_node(tmp_path, pki, test_anchor=False) as node:
        assert attempt(node.port, leaf_only).status == 404
        node.run(f"cd {TRUSTS}", "delete webexclientissuing2023")
        assert attempt(node.port, leaf_only).status == 404  # until the restart
        node.restart()
        anchors = node.run("get")
        assert "webexclientroot2023" in anchors and "webexclientissuing2023" not in anchors

        refused = attempt(node.port, leaf_only)
        assert refused.alert == "TLSV1_ALERT_UNKNOWN_CA"
        assert lines_about(caplog, refused.client_port) == [refusal_line(
            node, refused.client_port,
            "unknown CA: issuer CN=Internal Private TLS SubCA is not a trust anchor", "unknown_ca")]
        served = attempt(node.port, with_chain)
        assert (served.alert, served.status) == (None, 404)

        async def events_for_the_chain_sender() -> str:
            chain_file = tmp_path / "webex-client-with-chain.pem"
            chain_file.write_bytes(pki.demo.webex_client_cert.read_bytes()
                                   + pki.demo.webex_client_chain.read_bytes())
            context = tls_context(str(chain_file), str(pki.demo.webex_client_key),
                                  str(pki.demo.partner_ca))
            async with WebexClient(HOST, node.port, ssl_context=context) as client:
                await client.subscribe("bob@example.com")
                first = await asyncio.wait_for(anext(client.events().__aiter__()), 5)
                return first.type
        assert asyncio.run(events_for_the_chain_sender()) == "CallSubscriptionEvent"


# -- what a scanner sees -----------------------------------------------------------------------

def test_a_scan_accepts_exactly_the_plan_per_version_and_finds_the_client_certificate_required(
        tmp_path: Path, pki: MatrixPKI) -> None:
    """One handshake per suite OpenSSL knows, per version, as sslyze scans: exactly the
    suites the plan offers are accepted; the ECDSA suite (RSA server key) and TLSv1.1
    (no suite for it) are configured but never accepted."""
    extra = (f"cd {PROTOCOLS}", f"add {HOST} TLSv1.1", f"add {HOST} TLSv1.3", f"cd {CIPHERS}",
             f"add {HOST} TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
             f"add {HOST} TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
             f"add {HOST} TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
             f"add {HOST} TLS_AES_256_GCM_SHA384", f"add {HOST} TLS_CHACHA20_POLY1305_SHA256")
    with configured_node(tmp_path, pki, test_anchor=False, extra=extra) as node:
        xsp = node.store.load().node(NODE).xsp
        plan = plan_for(xsp, xsp.cti_server(HOST))
        planned = {d.name: {s.iana_name for s in plan.negotiable if d.name in s.protocols}
                   for d in plan.protocol_decisions}
        assert planned == {
            "TLSv1": set(), "TLSv1.1": set(),
            "TLSv1.2": {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
                        "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"},
            "TLSv1.3": {"TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}}
        accepted = scan(HOST, node.port, pki.demo.webex_client_cert, pki.demo.webex_client_key)
        assert accepted == planned
        assert client_certificate_required(HOST, node.port)

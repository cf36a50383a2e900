"""Every refused client is told why with the TLS alert OpenSSL chose, and the node logs
one plain-words line for it. Alerts are checked where they matter: on the client."""
from __future__ import annotations

import datetime as dt
import logging
import random
import shutil
import socket
import ssl
import subprocess
import time
import warnings
from pathlib import Path

import pytest

from _listener_support import (
    BOTH, HOST, TLS12, TLS13, client_context, get_whoami, pki, raw_exchange,
    refused_reason, running_listener, server_context)


def _single(version: ssl.TLSVersion) -> tuple[ssl.TLSVersion, ssl.TLSVersion]:
    return (version, version)


@BOTH
def test_no_client_certificate_is_refused_with_the_version_s_alert(listener, version):
    lst, port = listener
    reason = refused_reason(port, client_context(None, versions=_single(version)))
    expected = {TLS12: ("SSLV3_ALERT_HANDSHAKE_FAILURE", "handshake_failure"),
                TLS13: ("TLSV13_ALERT_CERTIFICATE_REQUIRED", "certificate_required")}[version]
    assert reason == expected[0]
    [refusal] = lst.wait_refusals(1)
    assert (refusal.reason, refusal.alert, refusal.subject) == (
        "no client certificate presented", expected[1], None)
    assert refusal.peer[0] == HOST and refusal.listener.startswith(f"{HOST}:8012")


@BOTH
@pytest.mark.parametrize("case, client_reason, alert, words", [
    ("expired", "SSLV3_ALERT_CERTIFICATE_EXPIRED", "certificate_expired",
     "client certificate expired (notAfter 2025-01-01 00:00 UTC)"),
    ("not_yet_valid", "SSLV3_ALERT_BAD_CERTIFICATE", "bad_certificate",
     "client certificate not yet valid (notBefore "),
    ("intruder", "TLSV1_ALERT_UNKNOWN_CA", "unknown_ca",
     "unknown CA: issuer CN=Evil Root is not a trust anchor"),
    ("impostor", "TLSV1_ALERT_UNKNOWN_CA", "unknown_ca",
     "unknown CA: issuer CN=Listener Test Root has the name of a trust anchor but not its key"),
    ("self_signed", "TLSV1_ALERT_UNKNOWN_CA", "unknown_ca",
     "self-signed client certificate CN=self-made-client is not a trust anchor"),
    ("server", "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE", "unsupported_certificate",
     "client certificate is not for TLS client authentication (extendedKeyUsage)"),
])
def test_a_bad_client_certificate_gets_its_alert_and_a_reason(
        listener, version, case, client_reason, alert, words):
    lst, port = listener
    cert = getattr(pki(), case)
    assert refused_reason(port, client_context(cert, versions=_single(version))) == client_reason
    [refusal] = lst.wait_refusals(1)
    assert refusal.reason.startswith(words), refusal.reason
    assert refusal.alert == alert
    assert refusal.subject == cert.certificate.subject.rfc4514_string().removeprefix("CN=")


@BOTH
def test_a_client_that_distrusts_the_server_is_reported_with_the_alert_it_sent(
        listener, version):
    lst, port = listener
    distrustful = ssl.create_default_context(cadata=pki().evil_root.cert_pem.decode())
    pki().good.configure_cert(distrustful)
    distrustful.minimum_version = distrustful.maximum_version = version
    assert refused_reason(port, distrustful) == "CERTIFICATE_VERIFY_FAILED"  # its own verdict
    [refusal] = lst.wait_refusals(1)
    assert refusal.reason == ("client ended the handshake with alert unknown_ca "
                              "(it does not accept the server certificate)")
    assert refusal.alert is None


@pytest.mark.parametrize("server, client, words", [
    (TLS12, TLS13, "client offered only TLSv1.3; allowed: TLSv1.2"),
    (TLS13, TLS12, "client offered TLSv1.2 at most; allowed: TLSv1.3"),
])
def test_an_unaccepted_version_is_refused_with_protocol_version(server, client, words):
    with running_listener(server_context(versions=_single(server))) as (lst, port):
        reason = refused_reason(port, client_context(pki().good, versions=_single(client)))
        assert reason == "TLSV1_ALERT_PROTOCOL_VERSION"
        [refusal] = lst.wait_refusals(1)
    assert (refusal.reason, refusal.alert) == (words, "protocol_version")


@BOTH
def test_an_expired_issuing_ca_is_named_in_the_reason(version):
    p = pki()
    old_ca = p.root.new_intermediate(
        "Retired Issuing CA", key_type="ec",
        not_before=dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc),
        not_after=dt.datetime(2024, 6, 30, tzinfo=dt.timezone.utc))
    client = old_ca.issue_client("orphan-client", key_type="ec")
    with running_listener(server_context()) as (lst, port):
        assert refused_reason(port, client_context(client, versions=_single(version))) == \
            "SSLV3_ALERT_CERTIFICATE_EXPIRED"
        [refusal] = lst.wait_refusals(1)
    assert refusal.reason == ("certificate CN=Retired Issuing CA in the client's chain expired "
                              "(notAfter 2024-06-30 00:00 UTC)")
    assert (refusal.alert, refusal.subject) == ("certificate_expired", "orphan-client")


def test_a_legacy_tls11_client_is_refused_with_protocol_version():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLSv1_1 is, rightly
        old = client_context(pki().good, versions=_single(ssl.TLSVersion.TLSv1_1),
                             ciphers="DEFAULT:@SECLEVEL=0")
    with running_listener(server_context(versions=_single(TLS12))) as (lst, port):
        assert refused_reason(port, old) == "TLSV1_ALERT_PROTOCOL_VERSION"
        [refusal] = lst.wait_refusals(1)
    assert (refusal.reason, refusal.alert) == (
        "client offered TLSv1.1 at most; allowed: TLSv1.2", "protocol_version")


def test_no_shared_cipher_is_refused_with_handshake_failure():
    context = server_context(versions=_single(TLS12), ciphers="ECDHE-RSA-AES128-GCM-SHA256")
    with running_listener(context) as (lst, port):
        client = client_context(pki().good, versions=_single(TLS12),
                                ciphers="ECDHE-RSA-AES256-GCM-SHA384")
        assert refused_reason(port, client) == "SSLV3_ALERT_HANDSHAKE_FAILURE"
        [refusal] = lst.wait_refusals(1)
    assert refusal.alert == "handshake_failure"
    assert refusal.reason == ("no cipher suite in common: client offered "
                              "ECDHE-RSA-AES256-GCM-SHA384; allowed: ECDHE-RSA-AES128-GCM-SHA256")


def test_plain_http_on_the_tls_port_is_refused_without_an_answer(listener):
    lst, port = listener
    answer = raw_exchange(port, b"GET /whoami HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert answer == b""  # OpenSSL has no alert for this; certainly no HTTP answer
    [refusal] = lst.wait_refusals(1)
    assert (refusal.reason, refusal.alert) == ("not a TLS ClientHello (plain HTTP?)", None)


def test_random_bytes_are_refused_and_the_connection_closed(listener):
    lst, port = listener
    garbage = bytes([0x42]) + random.Random(8012).randbytes(300)
    answer = raw_exchange(port, garbage)
    [refusal] = lst.wait_refusals(1)
    assert refusal.reason == f"not a TLS ClientHello (first bytes {garbage[:8].hex(' ')})"
    # Whatever OpenSSL answered is a TLS alert record or nothing, never application bytes.
    assert answer == b"" or (answer[0] == 21 and refusal.alert is not None)


@pytest.mark.parametrize("sent", [b"", b"\x16\x03\x01\x02\x00\x01\x00"], ids=["silent", "partial"])
def test_a_stalled_handshake_times_out_and_is_reported(sent):
    with running_listener(server_context(), handshake_timeout=0.3) as (lst, port):
        started = time.monotonic()
        assert raw_exchange(port, sent) == b""
        elapsed = time.monotonic() - started
        [refusal] = lst.wait_refusals(1)
    assert 0.25 < elapsed < 3
    assert (refusal.reason, refusal.alert) == ("handshake timed out after 0.3 s", None)


def test_on_refusal_is_called_once_per_refused_connection_and_logged_once(listener, caplog):
    lst, port = listener
    caplog.set_level(logging.WARNING, logger="xsp.cti")
    p = pki()
    refused_reason(port, client_context(None))
    refused_reason(port, client_context(p.intruder, versions=_single(TLS12)))
    raw_exchange(port, b"HEAD / HTTP/1.0\r\n\r\n")
    # A good request after them: the loop has long finished reporting the three.
    assert get_whoami(port, client_context(p.good))["cn"] == "webex-client"
    refusals = lst.wait_refusals(3)
    time.sleep(0.1)
    assert len(lst.refusals) == 3
    assert [(r.reason.split(":")[0], r.alert) for r in refusals] == [
        ("no client certificate presented", "certificate_required"),
        ("unknown CA", "unknown_ca"),
        ("not a TLS ClientHello (plain HTTP?)", None)]
    lines = [r.getMessage() for r in caplog.records if r.name == "xsp.cti"]
    assert lines == [r.log_line for r in refusals]
    assert lines[1] == (f"CTI {HOST}:8012 (bound {HOST}:0): refused {HOST}:{refusals[1].peer[1]}"
                        " (certificate CN=intruder): unknown CA: issuer CN=Evil Root is not"
                        " a trust anchor; sent alert unknown_ca")


def test_a_failing_on_refusal_callback_does_not_break_the_listener(listener, caplog):
    lst, port = listener

    def explode(refusal):
        raise RuntimeError("observer bug")
    lst.site._on_refusal = explode  # the callback the node would pass
    refused_reason(port, client_context(None))
    assert get_whoami(port, client_context(pki().good))["cn"] == "webex-client"
    assert any("on_refusal callback failed" in r.getMessage() for r in caplog.records)


# -- openssl s_client: a different TLS stack prints the alert it received ---------------
openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl binary")


def _s_client(port: int, tmp_path: Path, *args: str) -> str:
    ca = tmp_path / "ca.pem"
    ca.write_bytes(pki().root.cert_pem)
    result = subprocess.run(
        ["openssl", "s_client", "-connect", f"{HOST}:{port}", "-CAfile", str(ca), *args],
        input="", capture_output=True, text=True, timeout=10)
    return result.stdout + result.stderr


@openssl
def test_s_client_without_certificate_prints_the_handshake_failure_alert(listener, tmp_path):
    lst, port = listener
    output = _s_client(port, tmp_path, "-tls1_2")
    assert "alert handshake failure" in output and "alert number 40" in output
    assert lst.wait_refusals(1)[0].alert == "handshake_failure"


@openssl
def test_s_client_from_an_unknown_ca_prints_unknown_ca_under_tls13(listener, tmp_path):
    lst, port = listener
    p = pki()
    p.intruder.write(tmp_path / "c.pem", tmp_path / "k.pem")
    output = _s_client(port, tmp_path, "-tls1_3", "-ign_eof", "-cert", str(tmp_path / "c.pem"),
                       "-key", str(tmp_path / "k.pem"))
    assert "alert unknown ca" in output and "alert number 48" in output
    assert lst.wait_refusals(1)[0].alert == "unknown_ca"


@openssl
def test_no_shared_tls13_suite_is_refused_with_handshake_failure(listener, tmp_path):
    lst, port = listener
    output = _s_client(port, tmp_path, "-tls1_3", "-ciphersuites", "TLS_AES_128_CCM_SHA256")
    assert "alert handshake failure" in output
    [refusal] = lst.wait_refusals(1)
    assert refusal.alert == "handshake_failure"
    assert refusal.reason.startswith("no cipher suite in common: client offered "
                                     "TLS_AES_128_CCM_SHA256; allowed: TLS_")


def test_a_client_that_hangs_up_mid_handshake_is_reported_without_an_alert(listener):
    lst, port = listener
    with socket.create_connection((HOST, port), timeout=5) as sock:
        sock.sendall(b"\x16\x03\x01\x00\x05\x01\x00")  # the start of a ClientHello
    [refusal] = lst.wait_refusals(1)
    assert (refusal.reason, refusal.alert) == (
        "client closed the connection during the handshake", None)


@openssl
def test_a_tls13_client_offering_only_rsa_pkcs1_signatures_is_told_in_plain_words(
        listener, tmp_path):
    """OpenSSL's NO_SUITABLE_SIGNATURE_ALGORITHM, named with what the client offered."""
    lst, port = listener
    output = _s_client(port, tmp_path, "-tls1_3", "-sigalgs", "RSA+SHA256:RSA+SHA384")
    assert "alert handshake failure" in output
    [refusal] = lst.wait_refusals(1)
    assert (refusal.reason, refusal.alert) == (
        "no signature algorithm the client accepts can sign with the server's key: the client "
        "offered rsa_pkcs1_sha256, rsa_pkcs1_sha384 (TLS 1.3 signs with an RSA key only by "
        "RSA-PSS, rsa_pss_rsae_*)", "handshake_failure")

"""Restricting TLS 1.3 suites through OpenSSL, which Python's ssl module cannot do itself."""
from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from _tls_support import client_context, connect, listening, server_context
from xsp.tls import tls13

RFC8446_SUITES = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                  "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_CCM_SHA256",
                  "TLS_AES_128_CCM_8_SHA256"}


def _tls13_names(context: ssl.SSLContext) -> list[str]:
    return [c["name"] for c in context.get_ciphers() if c["protocol"] == "TLSv1.3"]


def test_the_restriction_is_available_on_this_cpython() -> None:
    assert tls13.unavailable_reason() is None


def test_every_rfc8446_suite_of_openssl_3_is_supported() -> None:
    assert set(tls13.supported_suites()) == RFC8446_SUITES


@pytest.mark.parametrize("protocol", [ssl.PROTOCOL_TLS_SERVER, ssl.PROTOCOL_TLS_CLIENT])
def test_the_context_lists_exactly_the_requested_suites_in_order(protocol: int) -> None:
    context = ssl.SSLContext(protocol)
    tls13.set_tls13_suites(context, ["TLS_AES_128_CCM_SHA256", "TLS_AES_128_GCM_SHA256"])
    assert _tls13_names(context) == ["TLS_AES_128_CCM_SHA256", "TLS_AES_128_GCM_SHA256"]


def test_an_empty_list_removes_every_tls13_suite() -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls13.set_tls13_suites(context, [])
    assert _tls13_names(context) == []


def test_the_options_flipped_to_verify_the_pointer_are_restored() -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.verify_mode = ssl.CERT_REQUIRED
    before = (context.options, context.verify_mode)
    tls13.set_tls13_suites(context, ["TLS_AES_256_GCM_SHA384"])
    assert (context.options, context.verify_mode) == before


def test_a_name_openssl_does_not_know_is_refused_and_leaves_no_error_behind() -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls13.set_tls13_suites(context, ["TLS_AES_256_GCM_SHA384"])
    with pytest.raises(ValueError, match="OpenSSL refuses the TLS 1.3 suites TLS_BOGUS"):
        tls13.set_tls13_suites(context, ["TLS_BOGUS"])
    assert _tls13_names(context) == ["TLS_AES_256_GCM_SHA384"]
    # A stale error in OpenSSL's queue would be reported by the next failing call.
    with pytest.raises(ssl.SSLError, match="No cipher can be selected"):
        context.set_ciphers("NO-SUCH-SUITE")


def test_without_the_restriction_tls13_is_not_offered(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """As on an interpreter where the SSL_CTX pointer cannot be verified."""
    monkeypatch.setattr(tls13, "unavailable_reason", lambda: "no SSL_CTX pointer (simulated)")
    suite_plan, context = server_context(tmp_path, ["TLSv1.2", "TLSv1.3"],
                                         ["TLS_AES_128_GCM_SHA256",
                                          "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"])
    assert suite_plan.protocols == ("TLSv1.2",)
    assert suite_plan.suites[0].reason == ("TLS 1.3 suites cannot be restricted here (no SSL_CTX "
                                           "pointer (simulated)); TLSv1.3 is not offered")
    with listening(context) as listener:
        assert connect(listener.port, client_context(versions=["TLSv1.3"])).error == \
            "TLSV1_ALERT_PROTOCOL_VERSION"
        assert connect(listener.port, client_context(versions=["TLSv1.2"])).accepted

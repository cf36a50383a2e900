"""One verdict on a client certificate: the CTI listener (a real handshake, with its
alert and its log line) and `xsp trust verify --purpose client` judge the same chains
the same way, and allowing TLSv1 or a NULL suite weakens neither."""
from __future__ import annotations

import ssl
from collections.abc import Sequence
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from _chain_matrix import Case, cases
from _listener_support import get_whoami, refused_reason, running_listener
from _tls_support import client_context, server_context
from _trust_support import run_xsp

MODERN = (("TLSv1.2", "TLSv1.3"),
          ("TLS_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"))
# TLSv1 and a NULL suite need OpenSSL security level 0 for the handshake.
LEGACY = (("TLSv1", "TLSv1.2", "TLSv1.3"),
          ("TLS_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
           "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "TLS_RSA_WITH_NULL_SHA256"))
# What a Python client reports for each alert the listener sends.
CLIENT_SIDE = {"bad_certificate": "SSLV3_ALERT_BAD_CERTIFICATE",
               "unsupported_certificate": "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE",
               "certificate_unknown": "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
               "certificate_expired": "SSLV3_ALERT_CERTIFICATE_EXPIRED",
               "unknown_ca": "TLSV1_ALERT_UNKNOWN_CA",
               "decrypt_error": "TLSV1_ALERT_DECRYPT_ERROR"}


def _pem(certs: Sequence[x509.Certificate]) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def _listener_context(tmp_path: Path, case: Case, settings: tuple[tuple[str, ...], tuple[str, ...]]
                      ) -> ssl.SSLContext:
    protocols, suites = settings
    plan, context = server_context(tmp_path, protocols, suites, require_client_cert=True,
                                   anchors=[_pem([a]) for a in case.anchors])
    assert plan.security_level == (0 if settings is LEGACY else 2)
    return context


def _node_verdict(context: ssl.SSLContext, case: Case, version: str, *,
                  suites: str | None = None) -> tuple[bool, str, str | None, str | None]:
    """(accepted, the refusal's words, the alert it logged, the alert the client got)."""
    client = client_context(versions=[version], certificate=case.client, suites=suites)
    with running_listener(context) as (listener, port):
        try:
            who = get_whoami(port, client)
        except ssl.SSLError as error:
            received = str(error.reason)
        else:
            assert who["version"] == version
            return True, "", None, None
        [refusal] = listener.wait_refusals(1, timeout=20)
    return False, refusal.reason, refusal.alert, received


def _cli_verdict(tmp_path: Path, case: Case) -> tuple[int, str]:
    leaf, anchors = tmp_path / "leaf.pem", tmp_path / "anchors.pem"
    leaf.write_bytes(_pem([case.client.certificate]))
    anchors.write_bytes(_pem(case.anchors))
    args = ["trust", "verify", str(leaf), "--anchor", str(anchors), "--purpose", "client"]
    if case.client.chain:
        chain = tmp_path / "chain.pem"
        chain.write_bytes(_pem(case.client.chain))
        args += ["--untrusted", str(chain)]
    result = run_xsp(*args)
    return result.returncode, (result.stdout + result.stderr).strip()


@pytest.mark.parametrize("case", cases(), ids=lambda c: c.name)
def test_the_listener_and_trust_verify_give_one_verdict(tmp_path: Path, case: Case) -> None:
    status, said = _cli_verdict(tmp_path, case)
    assert status == (0 if case.ok else 1), said
    assert case.reason in said
    for settings in (MODERN, LEGACY):
        context = _listener_context(tmp_path, case, settings)
        for version in ("TLSv1.2", "TLSv1.3"):
            accepted, reason, alert, received = _node_verdict(context, case, version)
            assert accepted is case.ok, (version, reason)
            assert case.reason in reason
            assert alert == case.alert
            assert received == (CLIENT_SIDE[alert] if alert else None)


# -- the hole: weak client certificates on an interface that allows TLSv1 and NULL ---------

WEAK = [c for c in cases() if c.name in ("MD5 leaf", "SHA-1 leaf", "1024-bit RSA leaf")]


@pytest.mark.parametrize("case", WEAK, ids=lambda c: c.name)
@pytest.mark.parametrize("version, suites", [
    ("TLSv1", None), ("TLSv1.2", "NULL-SHA256"), ("TLSv1.2", None), ("TLSv1.3", None)],
    ids=["TLSv1", "NULL suite", "TLSv1.2", "TLSv1.3"])
def test_weak_client_certificates_are_refused_when_tlsv1_and_null_are_allowed(
        tmp_path: Path, case: Case, version: str, suites: str | None) -> None:
    context = _listener_context(tmp_path, case, LEGACY)
    accepted, reason, alert, received = _node_verdict(context, case, version, suites=suites)
    assert not accepted
    assert (alert, received) == ("bad_certificate", "SSLV3_ALERT_BAD_CERTIFICATE")
    assert reason == {
        "MD5 leaf": "client certificate CN=bwcticlient.webex.com is signed with a weak digest "
                    "(MD5); a SHA-2 digest is required",
        "SHA-1 leaf": "client certificate CN=bwcticlient.webex.com is signed with a weak "
                      "digest (SHA-1); a SHA-2 digest is required",
        "1024-bit RSA leaf": "client certificate CN=bwcticlient.webex.com has a 1024-bit RSA "
                             "key; at least 2048 bits are required",
    }[case.name]


def test_a_good_client_certificate_is_served_over_tlsv1_and_the_null_suite(tmp_path: Path) -> None:
    """The legacy settings really allow what they say: the refusals above are the
    certificate's, not the protocol's."""
    case = cases()[0]
    context = _listener_context(tmp_path, case, LEGACY)
    client = client_context(versions=["TLSv1"], certificate=case.client)
    null = client_context(versions=["TLSv1.2"], certificate=case.client, suites="NULL-SHA256")
    with running_listener(context) as (_, port):
        assert get_whoami(port, client)["version"] == "TLSv1"
        assert get_whoami(port, null)["cipher"] == "NULL-SHA256"


def test_a_chain_longer_than_ten_certificates_is_refused_before_it_is_read(tmp_path: Path) -> None:
    from xsp_trust import IssuedCert
    good = cases()[0]
    long = IssuedCert(good.client.certificate, good.client.private_key,
                      good.client.chain * 11)
    case = Case("eleven CAs", long, good.anchors, False)
    context = _listener_context(tmp_path, case, MODERN)
    accepted, reason, alert, received = _node_verdict(context, case, "TLSv1.2")
    assert (accepted, reason, alert, received) == (
        False, "the client sent 12 certificates; at most 10 are accepted", "unknown_ca",
        "TLSV1_ALERT_UNKNOWN_CA")


def test_anchors_in_a_hashed_directory_are_found_as_openssl_finds_them(tmp_path: Path) -> None:
    """The check takes its anchors from the context's own store, so a ``capath``
    directory (``<subject hash>.0`` files) serves as well as anchors loaded one by one."""
    import subprocess
    good = cases()[0]
    anchor = tmp_path / "anchor.pem"
    anchor.write_bytes(_pem(good.anchors))
    subject_hash = subprocess.run(["openssl", "x509", "-hash", "-noout", "-in", str(anchor)],
                                  capture_output=True, text=True, check=True).stdout.strip()
    capath = tmp_path / "capath"
    capath.mkdir()
    (capath / f"{subject_hash}.0").write_bytes(anchor.read_bytes())
    _, context = server_context(tmp_path, *MODERN, require_client_cert=True, anchors=[])
    context.load_verify_locations(capath=str(capath))
    weak = next(c for c in cases() if c.name == "SHA-1 leaf")
    with running_listener(context) as (listener, port):
        assert get_whoami(port, client_context(certificate=good.client))["version"] == "TLSv1.3"
        assert refused_reason(port, client_context(certificate=weak.client)) == \
            "SSLV3_ALERT_BAD_CERTIFICATE"
        [refusal] = listener.wait_refusals(1)
    assert "signed with a weak digest (SHA-1)" in refusal.reason

"""Client certificates: who OpenSSL lets in when the CTI interface requires one."""
from __future__ import annotations

from pathlib import Path

import pytest

from _tls_support import client_context, connect, listening, pki, server_context

SUITES = ["TLS_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]
VERSIONS = ["TLSv1.2", "TLSv1.3"]


def _server(tmp_path: Path, anchors: list[bytes], *, required: bool = True):
    return server_context(tmp_path, VERSIONS, SUITES, require_client_cert=required,
                          anchors=anchors)[1]


@pytest.mark.parametrize("version", VERSIONS)
def test_a_client_without_a_certificate_is_refused(tmp_path: Path, version: str) -> None:
    context = _server(tmp_path, [pki().client_issuing.cert_pem])
    with listening(context) as listener:
        outcome = connect(listener.port, client_context(versions=[version]))
        server_reason = listener.server_errors.get(timeout=5)
    assert not outcome.accepted
    assert server_reason == "PEER_DID_NOT_RETURN_A_CERTIFICATE"


@pytest.mark.parametrize("version", VERSIONS)
def test_the_issuing_ca_alone_is_enough_as_a_trust_anchor(tmp_path: Path, version: str) -> None:
    """As in a Java trust store, an anchor need not be a self-signed root."""
    context = _server(tmp_path, [pki().client_issuing.cert_pem])
    with listening(context) as listener:
        outcome = connect(listener.port, client_context(versions=[version],
                                                        certificate=pki().client))
    assert outcome.accepted, outcome.error
    assert outcome.version == version


def test_the_root_alone_is_enough_when_the_client_sends_its_chain(tmp_path: Path) -> None:
    context = _server(tmp_path, [pki().client_root.cert_pem])
    with listening(context) as listener:
        outcome = connect(listener.port, client_context(certificate=pki().client))
    assert outcome.accepted, outcome.error


def test_both_webex_anchors_in_one_list_are_trusted(tmp_path: Path) -> None:
    context = _server(tmp_path, [pki().client_root.cert_pem, pki().client_issuing.cert_pem])
    with listening(context) as listener:
        assert connect(listener.port, client_context(certificate=pki().client)).accepted


@pytest.mark.parametrize("version", VERSIONS)
def test_a_certificate_from_another_ca_is_refused(tmp_path: Path, version: str) -> None:
    context = _server(tmp_path, [pki().client_issuing.cert_pem])
    with listening(context) as listener:
        outcome = connect(listener.port, client_context(versions=[version],
                                                        certificate=pki().stranger))
        server_reason = listener.server_errors.get(timeout=5)
    assert not outcome.accepted
    assert server_reason == "CERTIFICATE_VERIFY_FAILED"


def test_without_trust_anchors_every_client_is_refused(tmp_path: Path) -> None:
    context = _server(tmp_path, [])
    with listening(context) as listener:
        outcome = connect(listener.port, client_context(certificate=pki().client))
        server_reason = listener.server_errors.get(timeout=5)
    assert not outcome.accepted
    assert server_reason == "CERTIFICATE_VERIFY_FAILED"


def test_anchors_do_not_include_the_systems_ca_store(tmp_path: Path) -> None:
    context = _server(tmp_path, [pki().client_issuing.cert_pem])
    assert len(context.get_ca_certs()) == 1


def test_when_not_required_no_certificate_is_asked_for(tmp_path: Path) -> None:
    context = _server(tmp_path, [pki().client_issuing.cert_pem], required=False)
    with listening(context) as listener:
        outcome = connect(listener.port, client_context())
    assert outcome.accepted
    assert context.get_ca_certs() == []


@pytest.mark.parametrize("version", VERSIONS)
def test_a_session_with_a_client_certificate_is_resumed(tmp_path: Path, version: str) -> None:
    context = _server(tmp_path, [pki().client_issuing.cert_pem])
    client = client_context(versions=[version], certificate=pki().client)
    with listening(context) as listener:
        first = connect(listener.port, client)
        second = connect(listener.port, client, session=first.session)
    assert first.accepted and not first.reused
    assert second.accepted and second.reused

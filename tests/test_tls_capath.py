"""Trust anchors as a hashed capath directory: OpenSSL's own names, the same verdicts as
anchors inserted one by one, and nothing loaded before a client needs it."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from _tls_support import client_context, connect, listening, pki, write_server
from xsp.tls import capath
from xsp.tls.context import build_server_context
from xsp.tls.suites import plan

pytestmark = pytest.mark.skipif(capath.available() is not None, reason=str(capath.available()))


def _der(pem: bytes) -> bytes:
    return x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)


def test_file_names_are_the_subject_hash_openssl_x509_prints(tmp_path: Path) -> None:
    for pem in (pki().client_root.cert_pem, pki().client_issuing.cert_pem, pki().stranger.cert_pem):
        (tmp_path / "c.pem").write_bytes(pem)
        printed = subprocess.run(["openssl", "x509", "-hash", "-noout", "-in", str(tmp_path / "c.pem")],
                                 capture_output=True, text=True, check=True).stdout.strip()
        assert f"{capath.subject_hash(_der(pem)):08x}" == printed


def test_a_set_is_built_once_and_two_anchors_with_one_name_both_kept(tmp_path: Path) -> None:
    root, issuing = pki().client_root.cert_pem.decode(), pki().client_issuing.cert_pem.decode()
    first = capath.build(tmp_path, [root, issuing, root])
    assert capath.build(tmp_path, [root, issuing]) == first
    assert sorted(p.read_text() for p in first.iterdir()) == sorted([root, issuing])
    assert capath.build(tmp_path, [issuing]) != first


def _contexts(tmp_path: Path, anchors: list[bytes]):
    suite_plan = plan(["TLSv1.2", "TLSv1.3"], ["TLS_AES_128_GCM_SHA256",
                                               "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"], "rsa")
    credentials = write_server(tmp_path, "rsa")
    inserted = build_server_context(suite_plan, credentials.parsed(),
                                    trust_anchor_pems=anchors, require_client_cert=True)
    directory = capath.build(tmp_path, [a.decode() for a in anchors])
    looked_up = build_server_context(suite_plan, credentials.parsed(),
                                     trust_anchor_dir=directory, require_client_cert=True)
    return inserted, looked_up


CASES = {
    "issuing CA alone vouches for its leaf (a partial chain)": ("issuing", "client", "TLSv1.2"),
    "issuing CA alone, TLS 1.3": ("issuing", "client", "TLSv1.3"),
    "root alone with the client's chain": ("root", "client", "TLSv1.2"),
    "both anchors": ("both", "client", "TLSv1.3"),
    "another CA's client": ("issuing", "stranger", "TLSv1.2"),
    "another CA's client, root anchor": ("root", "stranger", "TLSv1.3"),
}


@pytest.mark.parametrize("case", CASES)
def test_a_capath_directory_admits_and_refuses_exactly_as_inserted_anchors(tmp_path: Path, case: str) -> None:
    anchors_name, client_name, version = CASES[case]
    anchors = {"issuing": [pki().client_issuing.cert_pem], "root": [pki().client_root.cert_pem],
               "both": [pki().client_root.cert_pem, pki().client_issuing.cert_pem]}[anchors_name]
    client = getattr(pki(), client_name)
    verdicts = []
    for context in _contexts(tmp_path, anchors):
        with listening(context) as listener:
            outcome = connect(listener.port, client_context(versions=[version], certificate=client))
            server_reason = None if outcome.accepted else listener.server_errors.get(timeout=5)
        verdicts.append((outcome.accepted, outcome.version, server_reason))
    assert verdicts[0] == verdicts[1]
    assert verdicts[0][0] == (client_name == "client")


def test_nothing_is_loaded_before_a_client_needs_it(tmp_path: Path) -> None:
    """The point of capath: a context costs nothing per anchor until a handshake."""
    inserted, looked_up = _contexts(tmp_path, [pki().client_root.cert_pem, pki().client_issuing.cert_pem])
    assert len(inserted.get_ca_certs()) == 2
    assert looked_up.get_ca_certs() == []

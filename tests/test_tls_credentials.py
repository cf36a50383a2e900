"""Configured credentials configure an SSLContext themselves from parsed objects
(``xsp.tls.credentials``): the chain is sent, the only file written is an owner-only
temporary one that is gone once OpenSSL has read it, and a node keeps no copy of the
certificate and chain in its state."""
from __future__ import annotations

import os
import socket
import ssl
import stat
import tempfile
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from tests._node_support import HOST, MatrixPKI, configured_node, make_pki
from tests._tls_support import client_context, connect, listening, pki, write_server
from xsp.tls.credentials import ServerCredentials


class Watching(ssl.SSLContext):
    """A server context that notes, as OpenSSL reads it, the file it is given."""

    seen: list[tuple[int, int]]

    def load_cert_chain(self, certfile, keyfile=None, password=None):  # type: ignore[override]
        self.seen = [stat.S_IMODE(os.stat(certfile).st_mode),
                     stat.S_IMODE(os.stat(os.path.dirname(certfile)).st_mode)]
        super().load_cert_chain(certfile, keyfile, password)


def test_parsed_credentials_send_their_chain_and_leave_no_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = write_server(tmp_path, "rsa")
    credentials = ServerCredentials.from_pem(files.cert_file.read_text(), files.key_file,
                                             files.chain_file.read_text())
    assert [c.subject for c in credentials.chain] == [pki().rsa_server.chain[0].subject]
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    context = Watching(ssl.PROTOCOL_TLS_SERVER)
    credentials.configure(context)
    assert context.seen == [0o600, 0o700]  # the certificate file, its directory
    assert list(scratch.iterdir()) == []
    with listening(context) as listener:  # the client trusts the root only
        assert connect(listener.port, client_context()).accepted


@pytest.mark.parametrize("cert, chain, message", [
    ("not a certificate", "", "the server certificate is not readable as PEM certificates"),
    (None, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
     "the certificate chain is not readable as PEM certificates"),
    ("twice", "", "the server certificate: expected one PEM certificate, found 2"),
])
def test_unreadable_credentials_are_refused_with_what_is_wrong(
        tmp_path: Path, cert: str | None, chain: str, message: str) -> None:
    files = write_server(tmp_path, "rsa")
    good = files.cert_file.read_text()
    text = {None: good, "twice": good + good}.get(cert, cert)
    with pytest.raises(ValueError) as refused:
        ServerCredentials.from_pem(text or "", files.key_file, chain)
    assert str(refused.value) == message


def test_a_key_that_does_not_match_the_certificate_is_refused_by_openssl(tmp_path: Path) -> None:
    rsa, ec = write_server(tmp_path, "rsa"), write_server(tmp_path, "ec")
    with pytest.raises(ssl.SSLError):
        ServerCredentials.from_files(rsa.cert_file, ec.key_file).configure(
            ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER))


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> MatrixPKI:
    """The matrix PKI (demo CAs and clients) this module's node trusts."""
    return make_pki(tmp_path_factory.mktemp("credentials-pki"))


def test_a_node_serves_its_chain_and_keeps_no_copy_of_it_in_the_state(
        tmp_path: Path, matrix: MatrixPKI) -> None:
    with configured_node(tmp_path, matrix) as node:  # started, then restarted
        private = sorted(p.name for p in (node.store.dir / "private").iterdir())
        assert private and all(name.endswith(".key") for name in private), private
        # Verified only if the issuing CA came from the node: the client has the root.
        context = ssl.create_default_context(cafile=str(matrix.demo.partner_ca))
        context.load_cert_chain(matrix.demo.webex_client_cert, matrix.demo.webex_client_key)
        with socket.create_connection((HOST, node.port), timeout=5) as raw, \
                context.wrap_socket(raw, server_hostname=HOST) as tls:
            served = tls.getpeercert(binary_form=True)
        stored = x509.load_pem_x509_certificate(matrix.demo.server_cert.read_bytes())
        assert served == stored.public_bytes(Encoding.DER)

"""Real handshakes on 127.0.0.1 for the TLS tests: a PKI, a listener, a client.

The listener is a plain thread around a listening socket and the ``SSLContext`` under
test; it reports, per connection, whether OpenSSL completed the handshake. The client
reports what it negotiated or why it failed, after reading one byte from the server,
because in TLS 1.3 a refused client certificate only surfaces on the first read.
"""
from __future__ import annotations

import functools
import queue
import socket
import ssl
import threading
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from xsp_trust import CertificateAuthority, IssuedCert
from xsp.tls import tls13
from xsp.tls.context import build_server_context
from xsp.tls.credentials import ServerCredentials
from xsp.tls.suites import KeyType, SuitePlan, plan

BROADWORKS_DEFAULT_SUITES = (
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    "TLS_DHE_DSS_WITH_AES_128_GCM_SHA256", "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256", "TLS_DHE_DSS_WITH_AES_128_CBC_SHA256",
    "TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA256", "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256",
)
HOST = "127.0.0.1"
_TIMEOUT = 5.0
_VERSIONS = {"TLSv1": ssl.TLSVersion.TLSv1, "TLSv1.1": ssl.TLSVersion.TLSv1_1,
             "TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}


@dataclass(frozen=True)
class PKI:
    server_ca: CertificateAuthority  # issuing CA of the server certificates
    rsa_server: IssuedCert
    ec_server: IssuedCert
    client_root: CertificateAuthority
    client_issuing: CertificateAuthority
    client: IssuedCert  # issued by client_issuing
    stranger: IssuedCert  # a client certificate from an unrelated CA


@functools.cache
def pki() -> PKI:
    server_root = CertificateAuthority.new_root("Test Server Root")
    server_ca = server_root.new_intermediate("Test Server Issuing CA")
    client_root = CertificateAuthority.new_root("Internal Private Root")
    client_issuing = client_root.new_intermediate("Internal Private TLS SubCA")
    stranger_ca = CertificateAuthority.new_root("Someone Else", key_type="ec")
    return PKI(
        server_ca=server_ca,
        rsa_server=server_ca.issue_server("xsp.example.com", ips=[HOST]),
        ec_server=server_ca.issue_server("xsp.example.com", ips=[HOST], key_type="ec"),
        client_root=client_root,
        client_issuing=client_issuing,
        client=client_issuing.issue_client("bwcticlient.webex.com", key_type="ec"),
        stranger=stranger_ca.issue_client("bwcticlient.webex.com", key_type="ec"),
    )


@dataclass(frozen=True)
class Credentials:
    cert_file: Path
    key_file: Path
    chain_file: Path

    def parsed(self, *, chain: bool = True) -> ServerCredentials:
        """As a listener configures its context: parsed, with or without the chain."""
        return ServerCredentials.from_files(self.cert_file, self.key_file,
                                            self.chain_file if chain else None)


def write_server(directory: Path, key_type: KeyType) -> Credentials:
    issued = pki().rsa_server if key_type == "rsa" else pki().ec_server
    credentials = Credentials(directory / f"{key_type}-cert.pem", directory / f"{key_type}-key.pem",
                              directory / f"{key_type}-chain.pem")
    issued.write(credentials.cert_file, credentials.key_file, credentials.chain_file)
    return credentials


def server_context(directory: Path, protocols: Sequence[str], suites: Sequence[str],
                   key_type: KeyType = "rsa", *, require_client_cert: bool = False,
                   anchors: Sequence[bytes] = ()) -> tuple[SuitePlan, ssl.SSLContext]:
    suite_plan = plan(list(protocols), list(suites), key_type)
    credentials = write_server(directory, key_type)
    context = build_server_context(suite_plan, credentials.parsed(),
                                   trust_anchor_pems=list(anchors),
                                   require_client_cert=require_client_cert)
    return suite_plan, context


def client_context(*, versions: Sequence[str] = ("TLSv1.2", "TLSv1.3"),
                   suites: str | None = None, tls13_suites: Sequence[str] | None = None,
                   certificate: IssuedCert | None = None) -> ssl.SSLContext:
    """A client that verifies the server and offers only what it is told to.

    It always runs at security level 0 so that it can offer anything the server might
    accept; what is refused is then refused by the server.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    pki().server_ca.root.configure_trust(context)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = _VERSIONS[min(versions, key=list(_VERSIONS).index)]
        context.maximum_version = _VERSIONS[max(versions, key=list(_VERSIONS).index)]
    context.set_ciphers(f"{suites or 'ALL:COMPLEMENTOFALL'}:@SECLEVEL=0")
    if tls13_suites is not None:
        tls13.set_tls13_suites(context, list(tls13_suites))
    if certificate is not None:
        certificate.configure_cert(context)
    return context


@dataclass(frozen=True)
class Outcome:
    version: str | None = None
    cipher: str | None = None
    reused: bool = False
    error: str | None = None  # the client's view of a refusal
    session: ssl.SSLSession | None = None

    @property
    def accepted(self) -> bool:
        return self.error is None


class Listener:
    """Accepts connections one after another and completes (or fails) each handshake."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context
        self._socket = socket.create_server((HOST, 0))
        self.port: int = self._socket.getsockname()[1]
        self.server_errors: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                raw, _ = self._socket.accept()
            except OSError:  # shut down by close()
                return
            raw.settimeout(_TIMEOUT)
            try:
                with self._context.wrap_socket(raw, server_side=True) as tls:
                    tls.sendall(b"ok")
                    self.server_errors.put(None)
                    tls.recv(1)  # until the client closes
            except (ssl.SSLError, OSError) as exc:
                self.server_errors.put(getattr(exc, "reason", None) or str(exc))
            finally:
                raw.close()

    def close(self) -> None:
        # Shutting the listening socket down wakes the blocked accept() at once.
        self._socket.shutdown(socket.SHUT_RDWR)
        self._thread.join()
        self._socket.close()


@contextmanager
def listening(context: ssl.SSLContext) -> Iterator[Listener]:
    listener = Listener(context)
    try:
        yield listener
    finally:
        listener.close()


def connect(port: int, context: ssl.SSLContext, *,
            session: ssl.SSLSession | None = None) -> Outcome:
    with socket.create_connection((HOST, port), timeout=_TIMEOUT) as raw:
        try:
            with context.wrap_socket(raw, session=session) as tls:
                if tls.recv(2) != b"ok":
                    return Outcome(error="connection closed after the handshake")
                return Outcome(tls.version(), tls.cipher()[0], tls.session_reused,
                               session=tls.session)
        except (ssl.SSLError, OSError) as exc:
            return Outcome(error=getattr(exc, "reason", None) or str(exc))

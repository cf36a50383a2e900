"""Enrolling with a CAPF over TLS as a phone or a JTAPI/TSP instance does (blocking I/O).

With the CTL the client holds, the CAPF's certificate must be the CAPF record of that
CTL, as a client that trusts the CTL checks; without one the server is not checked
(the first contact of a client with no CTL).
"""
from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass

from cryptography import x509

import xsp_trust as trust
from xsp.cucm.capfclient import CapfClientSession

TIMEOUT = 30.0


class EnrolError(Exception):
    """The session could not run; ``str()`` is one line."""


@dataclass(frozen=True)
class Enrolled:
    session: CapfClientSession
    tls_version: str
    cipher: str


def enrol(host: str, port: int, session: CapfClientSession, *, ctl: bytes | None = None,
          context: ssl.SSLContext | None = None) -> Enrolled:
    if context is None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # checked against the CTL below, not a CA
    capf_records = None
    if ctl is not None:
        try:
            capf_records = [r.certificate for r in trust.read_ctl(ctl).records
                            if r.role == trust.CtlRole.CAPF and r.certificate is not None]
        except trust.CtlError as exc:
            raise EnrolError(f"the CTL file cannot be read: {exc}") from None
    try:
        with socket.create_connection((host, port), timeout=TIMEOUT) as raw:
            with context.wrap_socket(raw) as tls:
                if capf_records is not None:
                    presented = x509.load_der_x509_certificate(tls.getpeercert(binary_form=True) or b"")
                    if presented not in capf_records:
                        raise EnrolError(f"the CAPF presented {presented.subject.rfc4514_string()}, "
                                         "which is not the CAPF record of the CTL")
                while not session.done:
                    data = tls.recv(65536)
                    if not data:
                        raise EnrolError("the CAPF closed the connection before END_SESSION")
                    reply = session.receive(data)
                    if reply:
                        tls.sendall(reply)
                return Enrolled(session, tls.version() or "", (tls.cipher() or ("",))[0])
    except ssl.SSLError as exc:
        raise EnrolError(f"TLS with {host}:{port} failed: {exc.reason or exc}") from None
    except OSError as exc:
        raise EnrolError(f"cannot reach the CAPF at {host}:{port}: {exc.strerror or exc}") from None

"""What a TLS scanner sees on a listener, found the way sslyze finds it.

For each protocol version, one handshake per cipher suite this OpenSSL knows, with a
client that offers only that suite and only that version; a suite is accepted when the
handshake completes. The client presents a certificate the listener trusts, so a
refusal can only come from the protocol or the suite. TLS 1.3 suites are offered one at
a time through ``SSL_CTX_set_ciphersuites`` (``xsp.tls.tls13``), as Python's ``ssl``
cannot restrict them.
"""
from __future__ import annotations

import socket
import ssl
import warnings
from pathlib import Path

from xsp_cli_contexts import ciphers
from xsp.tls import tls13

VERSIONS = {
    "TLSv1": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}


def _client(version: ssl.TLSVersion, cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():
        # A scanner must try TLSv1 and TLSv1.1, which Python rightly deprecates.
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = context.maximum_version = version
    context.load_cert_chain(str(cert), str(key))
    return context


def _handshake(context: ssl.SSLContext, host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=5) as raw:
            with context.wrap_socket(raw) as tls:
                # TLS 1.3 verifies the client certificate after the client's handshake
                # ends: a read shows whether the server kept the connection.
                tls.settimeout(0.3)
                try:
                    tls.recv(1)
                except (TimeoutError, socket.timeout):
                    pass
                return True
    except (ssl.SSLError, ConnectionError, OSError):
        return False


def _tls12_family() -> list[tuple[str, str]]:
    """(IANA name, OpenSSL name) of every TLS 1.2-and-earlier suite this OpenSSL has."""
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    probe.set_ciphers("ALL:COMPLEMENTOFALL:@SECLEVEL=0")
    suites = []
    for cipher in probe.get_ciphers():
        if cipher["protocol"] == "TLSv1.3":
            continue
        iana = ciphers.name_for_code(cipher["id"] & 0xFFFF)
        suites.append((iana or cipher["name"], cipher["name"]))
    return suites


def scan(host: str, port: int, cert: Path, key: Path) -> dict[str, set[str]]:
    """Accepted IANA suite names per protocol version."""
    accepted: dict[str, set[str]] = {}
    family = _tls12_family()
    for label, version in VERSIONS.items():
        accepted[label] = set()
        if label == "TLSv1.3":
            for name in tls13.supported_suites():
                context = _client(version, cert, key)
                tls13.set_tls13_suites(context, [name])
                if _handshake(context, host, port):
                    accepted[label].add(name)
            continue
        for iana, openssl_name in family:
            context = _client(version, cert, key)
            try:
                context.set_ciphers(f"{openssl_name}:@SECLEVEL=0")
            except ssl.SSLError:
                continue
            if _handshake(context, host, port):
                accepted[label].add(iana)
    return accepted


def client_certificate_required(host: str, port: int) -> bool:
    """A TLS 1.2 client without a certificate is refused during the handshake."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    return not _handshake(context, host, port)

"""The effective protocols and cipher suites of one CTI interface.

Each list comes from the most specific level where it is not empty:
the interface's ``CTIServer/SSLSettings``, then ``Interface/CTI/SSLCommonSettings``,
then ``System/SSLCommonSettings/OpenSSL``, then ``.../JSSE``. Protocols and ciphers
are resolved independently, as BroadWorks does.
"""
from __future__ import annotations

from dataclasses import dataclass

from xsp.config.model import CTIServer, SSLSettings, XspSettings
from xsp.tls.suites import KeyType, SuitePlan

LEVELS = (
    ("interface", "Interface/CTI/CTIServer/SSLSettings"),
    ("cti", "Interface/CTI/SSLCommonSettings"),
    ("openssl", "System/SSLCommonSettings/OpenSSL"),
    ("jsse", "System/SSLCommonSettings/JSSE"),
)


@dataclass(frozen=True)
class Effective:
    protocols: tuple[str, ...]
    protocols_from: str  # the CLI context the list came from
    ciphers: tuple[str, ...]
    ciphers_from: str


def _levels(xsp: XspSettings, server: CTIServer) -> list[tuple[str, SSLSettings]]:
    settings = {"interface": server.ssl, "cti": xsp.cti_common,
                "openssl": xsp.openssl, "jsse": xsp.jsse}
    return [(context, settings[key]) for key, context in LEVELS]


def _first(levels: list[tuple[str, SSLSettings]], attribute: str) -> tuple[tuple[str, ...], str]:
    for context, settings in levels:
        values = getattr(settings, attribute)
        if values:
            return tuple(values), context
    return (), "no level (every level is empty)"


def effective(xsp: XspSettings, server: CTIServer) -> Effective:
    levels = _levels(xsp, server)
    protocols, protocols_from = _first(levels, "protocols")
    ciphers, ciphers_from = _first(levels, "ciphers")
    return Effective(protocols, protocols_from, ciphers, ciphers_from)


def server_key_type(server: CTIServer) -> KeyType:
    """``"rsa"`` or ``"ec"``: which suites the interface's certificate can serve."""
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec

    if server.certificate is None:
        return "rsa"
    key = x509.load_pem_x509_certificate(server.certificate.cert_pem.encode()).public_key()
    return "ec" if isinstance(key, ec.EllipticCurvePublicKey) else "rsa"


def plan_for(xsp: XspSettings, server: CTIServer) -> SuitePlan:
    """The suite plan a restart would give this interface."""
    from xsp.tls.suites import plan

    eff = effective(xsp, server)
    return plan(list(eff.protocols), list(eff.ciphers), server_key_type(server))

"""The key, certificate and chain that ``sslUpdate`` installs on an interface.

Decisions, so that a mistake is caught when the files are loaded rather than at the
first handshake:
- the key must be the private half of the certificate (public keys compared);
- the certificate file holds the interface certificate alone;
- the chain may be absent or empty (the peer must then already hold the issuer, which
  a warning says unless the certificate is self-signed); when present it must link
  from the certificate's issuer upward, each certificate signed by the next. A chain
  given in another order is put in order (with a warning); a copy of the certificate
  itself in the chain is dropped (with a warning); anything that does not link is refused.
"""
from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from xsp_trust._bundle import load_certificates, read_limited
from xsp_trust._classify import common_name, is_ca, is_self_signed, issued_by
from xsp_trust._errors import PrivateKeyInBundle, TrustError
from xsp_trust._fingerprint import sha256_hex
from xsp_trust._issue import IssuedCert
from xsp_trust._keys import PrivateKey, key_matches, load_private_key

# Warn this long before expiry: enough to order and install a renewal.
EXPIRY_WARNING = dt.timedelta(days=30)


@dataclass(frozen=True, eq=False)
class InterfaceCredentials(IssuedCert):
    """A key, its certificate and the ordered chain, plus warnings worth showing."""

    warnings: tuple[str, ...] = ()


def load_key_and_cert(key_path: str | os.PathLike[str], cert_path: str | os.PathLike[str],
                      chain_path: str | os.PathLike[str] | None = None, *,
                      at: dt.datetime | None = None) -> InterfaceCredentials:
    """Load and check what ``sslUpdate`` installs; TrustError (one line) when unusable.

    ``at`` is the time the validity warnings are judged against (default now).
    """
    now = at or dt.datetime.now(dt.timezone.utc)
    key = load_private_key(key_path)
    cert = _load_certificate(cert_path)
    if not key_matches(cert, key):
        raise TrustError(f"the key in {os.fspath(key_path)} does not match the certificate "
                         f"CN={common_name(cert.subject)} in {os.fspath(cert_path)}")
    warnings: list[str] = []
    given = _load_chain(chain_path)
    if any(sha256_hex(c) == sha256_hex(cert) for c in given):
        warnings.append("the chain file repeats the certificate itself; that copy is left out")
        given = [c for c in given if sha256_hex(c) != sha256_hex(cert)]
    chain = _link(cert, given)
    if chain != given:
        warnings.append("the chain file was not in order from the certificate's issuer "
                        "upward; it is used in that order")
    if not chain and not is_self_signed(cert):
        warnings.append(f"no chain: clients must already hold CN={common_name(cert.issuer)}, "
                        f"the issuer of CN={common_name(cert.subject)}")
    if is_self_signed(cert):
        warnings.append(f"CN={common_name(cert.subject)} is self-signed; Webex needs a "
                        "certificate issued by a CA it trusts")
    warnings += _usage_warnings(cert, key)
    for certificate in (cert, *chain):
        warnings += _validity_warnings(certificate, now)
    return InterfaceCredentials(cert, key, tuple(chain), tuple(warnings))


def _load_certificate(path: str | os.PathLike[str]) -> x509.Certificate:
    source = os.fspath(path)
    try:
        certs = load_certificates(path)
    except PrivateKeyInBundle:
        raise TrustError(f"{source} holds a private key; give the key as keyFile and the "
                         "certificate alone as certificateFile") from None
    if len(certs) != 1:
        raise TrustError(f"{source} holds {len(certs)} certificates; certificateFile takes the "
                         "interface certificate alone, its CAs go in chainFile")
    return certs[0]


def _load_chain(path: str | os.PathLike[str] | None) -> list[x509.Certificate]:
    if path is None or not read_limited(path).strip():
        return []
    try:
        return load_certificates(path)
    except PrivateKeyInBundle:
        raise TrustError(f"{os.fspath(path)} holds a private key; chainFile takes CA "
                         "certificates only") from None


def _link(cert: x509.Certificate, given: list[x509.Certificate]) -> list[x509.Certificate]:
    """``given`` ordered so that each certificate is signed by the next, from cert's issuer up."""
    remaining = list(given)
    ordered: list[x509.Certificate] = []
    current = cert
    while remaining:
        signer = next((c for c in remaining if issued_by(current, c)), None)
        if signer is None:
            break
        if not is_ca(signer):
            raise TrustError(f"chain certificate CN={common_name(signer.subject)} signed "
                             f"CN={common_name(current.subject)} but is not a CA")
        ordered.append(signer)
        remaining.remove(signer)
        current = signer
    if not remaining:
        return ordered
    if is_self_signed(current):
        stray = ", ".join(f"CN={common_name(c.subject)}" for c in remaining)
        raise TrustError(f"chain certificate {stray} is not part of the chain of "
                         f"CN={common_name(cert.subject)}, which ends at the self-signed "
                         f"CN={common_name(current.subject)}")
    namesakes = [c for c in remaining if c.subject == current.issuer]
    if namesakes:
        raise TrustError(f"the signature on CN={common_name(current.subject)} does not verify "
                         f"with CN={common_name(current.issuer)} in the chain (a CA of the "
                         "same name with another key)")
    held = ", ".join(f"CN={common_name(c.subject)}" for c in remaining)
    raise TrustError(f"the chain does not hold CN={common_name(current.issuer)}, the issuer of "
                     f"CN={common_name(current.subject)}; it holds {held}")


def _usage_warnings(cert: x509.Certificate, key: PrivateKey) -> list[str]:
    warnings = []
    try:
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        usages = None
    if usages is not None and ExtendedKeyUsageOID.SERVER_AUTH not in usages:
        warnings.append(f"CN={common_name(cert.subject)} has no serverAuth extended key usage; "
                        "TLS clients will refuse it as a server certificate")
    if isinstance(key, rsa.RSAPrivateKey) and key.key_size < 2048:
        warnings.append(f"the RSA key has {key.key_size} bits; TLS peers expect at least 2048")
    return warnings


def _validity_warnings(cert: x509.Certificate, now: dt.datetime) -> list[str]:
    who = f"CN={common_name(cert.subject)}"
    end = cert.not_valid_after_utc
    if now > end:
        return [f"{who} expired on {end:%Y-%m-%d}; peers will refuse it"]
    if now < cert.not_valid_before_utc:
        return [f"{who} is not valid before {cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC"]
    if end - now < EXPIRY_WARNING:
        days = (end - now).days
        return [f"{who} expires on {end:%Y-%m-%d}, in {days} day{'s' if days != 1 else ''}"]
    return []

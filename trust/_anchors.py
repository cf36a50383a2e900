"""The file that ``updateTrust <alias> <file>`` loads: exactly one CA certificate."""
from __future__ import annotations

import datetime as dt
import os

from cryptography import x509

from xsp_trust._bundle import load_certificates
from xsp_trust._classify import common_name, is_ca
from xsp_trust._credentials import EXPIRY_WARNING
from xsp_trust._errors import PrivateKeyInBundle, TrustError


def load_single_ca(path: str | os.PathLike[str]) -> x509.Certificate:
    """The one CA certificate in the file at ``path``; TrustError (one line) otherwise.

    PEM, DER or PKCS#7 are read; the same certificate repeated counts once. A private
    key, a leaf certificate or several certificates are refused, as are unreadable,
    empty, damaged and oversized files.
    """
    source = os.fspath(path)
    try:
        certs = load_certificates(path)
    except PrivateKeyInBundle:
        raise TrustError("the file holds a private key; updateTrust takes a CA certificate "
                         "only") from None
    if len(certs) > 1:
        names = ", ".join(f"CN={common_name(c.subject)}" for c in certs)
        raise TrustError(f"{source} holds {len(certs)} certificates ({names}); updateTrust takes "
                         f"one CA certificate per alias (split it with: xsp split-chain {source})")
    cert = certs[0]
    if not is_ca(cert):
        raise TrustError(f"{source} holds CN={common_name(cert.subject)}, which is not a CA "
                         "certificate; updateTrust takes a CA certificate")
    return cert


def anchor_warnings(cert: x509.Certificate, now: dt.datetime | None = None) -> list[str]:
    """What an anchor's validity means for the clients it vouches for; empty when nothing.

    Not refusals: an anchor may be installed ahead of a CA change, or kept while its
    replacement is rolled out, so ``updateTrust`` takes it and says what follows.
    """
    now = now or dt.datetime.now(dt.timezone.utc)
    who = f"trust anchor CN={common_name(cert.subject)}"
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    if now > end:
        return [f"{who} expired on {end:%Y-%m-%d}; every client certificate it vouches for "
                "is refused"]
    if now < start:
        return [f"{who} is not valid before {start:%Y-%m-%d %H:%M} UTC; until then every "
                "client certificate it vouches for is refused"]
    if end - now < EXPIRY_WARNING:
        days = (end - now).days
        return [f"{who} expires on {end:%Y-%m-%d}, in {days} day{'s' if days != 1 else ''}"]
    return []

"""What a certificate is, decided from the certificate itself and never from where it sat in a file."""
from __future__ import annotations

import enum

from cryptography import x509


class Role(enum.Enum):
    ROOT = "root CA"
    INTERMEDIATE = "issuing CA"
    LEAF = "leaf"


def issued_by(child: x509.Certificate, issuer: x509.Certificate) -> bool:
    """True when ``issuer`` names and signs ``child`` (name match and a verifying signature)."""
    if child.issuer != issuer.subject:
        return False
    try:
        child.verify_directly_issued_by(issuer)
    except Exception:  # InvalidSignature, or a key/algorithm cryptography cannot check
        return False
    return True


def is_self_signed(cert: x509.Certificate) -> bool:
    """Issuer equals subject *and* the signature verifies with the certificate's own key.

    A matching name alone is not enough: a CA re-keyed under the same name, or a
    forged copy, names itself but does not verify.
    """
    return issued_by(cert, cert)


def basic_constraints(cert: x509.Certificate) -> x509.BasicConstraints | None:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return None


def is_ca(cert: x509.Certificate) -> bool:
    """BasicConstraints ca=True; or, lacking the extension, a self-signed certificate.

    The second case is the X.509 v1 root, which predates extensions and which trust
    stores (and OpenSSL) still accept as an anchor.
    """
    constraints = basic_constraints(cert)
    if constraints is None:
        return is_self_signed(cert)
    return constraints.ca


def role(cert: x509.Certificate) -> Role:
    if not is_ca(cert):
        return Role.LEAF
    return Role.ROOT if is_self_signed(cert) else Role.INTERMEDIATE


def common_name(name: x509.Name) -> str:
    """The CN, which is what BroadWorks shows; the whole name when there is none.

    Control characters are shown escaped: a name comes from whoever made the
    certificate, and a newline in it must not split a message or forge a line.
    """
    values = name.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    if values:
        value = values[-1].value
        text = value if isinstance(value, str) else value.decode("utf-8", errors="replace")
    else:
        text = name.rfc4514_string() or "(empty name)"
    return printable(text)


def printable(text: str) -> str:
    """``text`` with control characters escaped (``\\n``, ``\\x1b``), the rest unchanged."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch == " " else repr(ch)[1:-1] for ch in text)

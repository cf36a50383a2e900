"""SHA-256 fingerprints, the identity a person compares between two copies of a certificate."""
from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import hashes


def sha256_hex(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def colon_hex(hex_digest: str) -> str:
    """``AB:CD:...``, the form ``openssl x509 -fingerprint`` and browsers show."""
    upper = hex_digest.upper()
    return ":".join(upper[i:i + 2] for i in range(0, len(upper), 2))

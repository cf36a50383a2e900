"""Private keys: the two kinds a BroadWorks interface takes, and their PEM form."""
from __future__ import annotations

from typing import Literal, Union

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

KeyType = Literal["rsa", "ec"]
PrivateKey = Union[rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey]

# 2048-bit RSA and P-256 are what public CAs issue today and what every TLS 1.2
# stack (Java's JSSE on a real XSP included) accepts; anything larger only slows tests.
RSA_BITS = 2048


def generate_key(key_type: KeyType = "rsa") -> PrivateKey:
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    if key_type == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    raise ValueError(f"key_type must be 'rsa' or 'ec', not {key_type!r}")


def key_pem(key: PrivateKey) -> bytes:
    """PKCS#8, unencrypted: the form OpenSSL, Java and Python's ssl all read."""
    return key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())

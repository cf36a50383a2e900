"""Private keys: the two kinds a BroadWorks interface takes, and their PEM form."""
from __future__ import annotations

import os
from typing import Literal, Union

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import (CertificatePublicKeyTypes,
                                                              PrivateKeyTypes)

from xsp_trust._bundle import read_limited, scan_pem
from xsp_trust._errors import TrustError

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


def public_key_der(key: PrivateKey | CertificatePublicKeyTypes) -> bytes:
    public = key.public_key() if isinstance(key, (rsa.RSAPrivateKey,
                                                  ec.EllipticCurvePrivateKey)) else key
    return public.public_bytes(serialization.Encoding.DER,
                               serialization.PublicFormat.SubjectPublicKeyInfo)


def key_matches(cert: x509.Certificate, key: PrivateKey) -> bool:
    """True when ``key`` is the private half of the certificate's public key."""
    try:
        return public_key_der(cert.public_key()) == public_key_der(key)
    except Exception:  # a certificate key type cryptography cannot load matches nothing
        return False


def load_private_key(path: str | os.PathLike[str]) -> PrivateKey:
    """The one unencrypted RSA or EC private key in the file at ``path`` (PEM, or DER)."""
    source = os.fspath(path)
    data = read_limited(path)
    if not data.strip():
        raise TrustError(f"{source} is empty")
    if b"-----BEGIN" in data or b"-----END" in data:
        key = _pem_key(data, source)
    else:
        key = _der_key(data, source)
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise TrustError(f"{source} holds a key of type {_kind(key)}; the interface takes an "
                         "RSA or EC key")
    return key


def _pem_key(data: bytes, source: str) -> PrivateKeyTypes:
    blocks = scan_pem(data, source)
    keys = [b for b in blocks if b.is_private_key]
    if not keys:
        if any("CERTIFICATE" in b.label for b in blocks):
            raise TrustError(f"{source} holds a certificate, not a private key "
                             "(were the key and certificate files swapped?)")
        raise TrustError(f"{source} holds no private key")
    if len(keys) > 1:
        raise TrustError(f"{source} holds {len(keys)} private keys; give the one for the "
                         "certificate")
    block = keys[0]
    # A legacy OpenSSL encrypted key says so in a "Proc-Type: 4,ENCRYPTED" header;
    # ":" never occurs in base64, so the header cannot be mistaken for key data.
    legacy_encrypted = "Proc-Type:" in block.body and "ENCRYPTED" in block.body
    if block.label == "ENCRYPTED PRIVATE KEY" or legacy_encrypted:
        raise TrustError(_encrypted(source))
    if block.label == "OPENSSH PRIVATE KEY":
        raise TrustError(f"{source} is an OpenSSH key; the interface takes a PEM RSA or EC key")
    text = f"-----BEGIN {block.label}-----{block.body}-----END {block.label}-----\n"
    try:
        return serialization.load_pem_private_key(text.encode("ascii", errors="replace"),
                                                  password=None)
    except TypeError:
        raise TrustError(_encrypted(source)) from None
    except Exception:  # ValueError, UnsupportedAlgorithm: damaged or unknown key
        raise TrustError(f"{source}: {block.where}: the private key is truncated, corrupt or "
                         "of an unsupported kind") from None


def _der_key(data: bytes, source: str) -> PrivateKeyTypes:
    try:
        return serialization.load_der_private_key(data, password=None)
    except TypeError:
        raise TrustError(_encrypted(source)) from None
    except Exception:
        raise TrustError(f"{source} holds no private key (neither PEM nor DER)") from None


def _encrypted(source: str) -> str:
    return (f"{source}: the private key is encrypted; give it unencrypted "
            f"(openssl pkey -in {source} -out plain.key)")


def _kind(key: PrivateKeyTypes) -> str:
    return type(key).__name__.removeprefix("_").replace("PrivateKey", "") or "unsupported"

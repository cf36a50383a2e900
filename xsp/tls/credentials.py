"""A server's credentials as parsed objects, which configure an ``SSLContext`` themselves.

The configuration keeps a listener's certificate and the chain it sends as PEM text and
its key as an owner-only file of the state. ``ServerCredentials`` holds the certificate
and the chain parsed (so a bad one is refused before any file is touched) and the key's
path. CPython's ``SSLContext.load_cert_chain`` reads files only, so ``configure`` writes
the certificate and its chain to one file in a private temporary directory (created
0700, as trustme does) and removes it as soon as OpenSSL has read it: nothing of it
stays in the state, and a process killed meanwhile leaves nothing there either. The key
is read where the store keeps it, never copied.
"""
from __future__ import annotations

import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

StrPath = str | os.PathLike[str]


@dataclass(frozen=True)
class ServerCredentials:
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]   # sent after the certificate, issuer first
    key_file: Path

    @classmethod
    def from_pem(cls, cert_pem: str | bytes, key_file: StrPath,
                 chain_pem: str | bytes = b"") -> ServerCredentials:
        """Raises ``ValueError`` saying which part is not a PEM certificate."""
        certificate = _certificates(cert_pem, "the server certificate")
        if len(certificate) != 1:
            raise ValueError(f"the server certificate: expected one PEM certificate, "
                             f"found {len(certificate)}")
        chain = _certificates(chain_pem, "the certificate chain") if _text(chain_pem) else []
        return cls(certificate[0], tuple(chain), Path(key_file))

    @classmethod
    def from_files(cls, cert_file: StrPath, key_file: StrPath,
                   chain_file: StrPath | None = None) -> ServerCredentials:
        chain = Path(chain_file).read_bytes() if chain_file is not None else b""
        return cls.from_pem(Path(cert_file).read_bytes(), key_file, chain)

    @property
    def key_type(self) -> str:
        """``rsa``, ``ec``, or the key class's name for any other."""
        key = self.certificate.public_key()
        if isinstance(key, rsa.RSAPublicKey):
            return "rsa"
        if isinstance(key, ec.EllipticCurvePublicKey):
            return "ec"
        return type(key).__name__

    def pem(self) -> bytes:
        """The certificate, then its chain: what the server sends."""
        return b"".join(c.public_bytes(serialization.Encoding.PEM)
                        for c in (self.certificate, *self.chain))

    def configure(self, context: ssl.SSLContext) -> None:
        """Make ``context`` present the certificate, its chain and the key.

        Raises ``ssl.SSLError`` or ``OSError`` when OpenSSL cannot load the key or it
        does not match the certificate.
        """
        with tempfile.TemporaryDirectory(prefix="xsp-credentials-") as private:
            cert_file = Path(private, "certificate-and-chain.pem")
            descriptor = os.open(cert_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(self.pem())
            context.load_cert_chain(cert_file, self.key_file)


def _text(pem: str | bytes) -> bytes:
    return pem.encode("ascii", "replace") if isinstance(pem, str) else pem


def _certificates(pem: str | bytes, what: str) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(_text(pem))
    except ValueError:
        raise ValueError(f"{what} is not readable as PEM certificates") from None

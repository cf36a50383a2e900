"""Reading certificates from files as people have them.

PEM bundles with CRLF or LF, text before, between and after the blocks, blocks in any
order and repeated; a single DER certificate; a PKCS#7 bundle in PEM or DER. Whatever
is wrong with a file becomes one TrustError line that says where.
"""
from __future__ import annotations

import base64
import binascii
import os
import stat
import re
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from xsp_trust._errors import PrivateKeyInBundle, TrustError
from xsp_trust._fingerprint import sha256_hex

# A bundle is a few kilobytes; refusing large files early keeps a mistaken path (a
# disk image, /dev/zero) from being read into memory.
MAX_FILE_BYTES = 1024 * 1024

_CERTIFICATE_LABELS = frozenset({"CERTIFICATE", "X509 CERTIFICATE"})
_PKCS7_LABELS = frozenset({"PKCS7", "PKCS #7 SIGNED DATA", "CMS"})
_MARKER = re.compile(r"-----(BEGIN|END) ([A-Z0-9#][A-Z0-9# ]*?)-----")
_DER_SEQUENCE = 0x30


@dataclass(frozen=True)
class PemBlock:
    number: int  # 1-based among the blocks of the file
    line: int  # line of the BEGIN marker, 1-based
    label: str
    body: str  # text between the markers

    @property
    def where(self) -> str:
        return f"block {self.number} (line {self.line})"

    @property
    def is_private_key(self) -> bool:
        return self.label.endswith("PRIVATE KEY")


def read_limited(path: str | os.PathLike[str], *, limit: int = MAX_FILE_BYTES,
                 expected: str = "a certificate file is a few kilobytes") -> bytes:
    """The bytes of ``path``, refused with one line when it is not a regular file, cannot
    be read or is larger than ``limit``; ``expected`` says what size the file should be."""
    try:
        # O_NONBLOCK: a FIFO or device given by mistake is refused, not waited on.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise TrustError(f"cannot read {os.fspath(path)}: {exc.strerror or exc}") from None
    except ValueError:  # a NUL in the path
        raise TrustError(f"cannot read {os.fspath(path)!r}: a path cannot hold a NUL character") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise TrustError(f"{os.fspath(path)} is not a regular file")
    with os.fdopen(fd, "rb") as handle:
        try:
            data = handle.read(limit + 1)
        except OSError as exc:
            raise TrustError(f"cannot read {os.fspath(path)}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise TrustError(f"{os.fspath(path)} is larger than {_size(limit)}; {expected}")
    return data


def _size(count: int) -> str:
    for unit, factor in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= factor and count % factor == 0:
            return f"{count // factor} {unit}"
    return f"{count} bytes"


def load_certificates(path: str | os.PathLike[str]) -> list[x509.Certificate]:
    """Every distinct certificate in the file at ``path``, in file order."""
    return parse_certificates(read_limited(path), os.fspath(path))


def parse_certificates(data: bytes, source: str = "input") -> list[x509.Certificate]:
    """Every distinct certificate in ``data`` (PEM, DER or PKCS#7), in the order found.

    Duplicates (same SHA-256 fingerprint) are kept once. A private key anywhere in the
    data is refused, as is a file with no certificate or a damaged block.
    """
    if not data.strip():
        raise TrustError(f"{source} is empty")
    if b"-----BEGIN" in data or b"-----END" in data:
        certs = _from_pem(data, source)
    else:
        certs = _from_binary_or_text(data, source)
    return _distinct(certs)


def scan_pem(data: bytes, source: str) -> list[PemBlock]:
    """The PEM blocks of ``data``; a block without its END (or an END alone) is refused."""
    # Markers are ASCII; decoding leniently lets text around the blocks be anything.
    text = data.decode("utf-8", errors="replace")
    blocks: list[PemBlock] = []
    open_marker: re.Match[str] | None = None
    begun = line = 1
    counted_to = 0
    for marker in _MARKER.finditer(text):
        kind, label = marker.group(1), marker.group(2)
        # Counted incrementally: a hostile file full of markers must not cost n^2.
        line += text.count("\n", counted_to, marker.start())
        counted_to = marker.start()
        if kind == "BEGIN":
            if open_marker is not None:
                raise TrustError(f"{source}: block {len(blocks) + 1} (line {begun}) has no "
                                 f"END {open_marker.group(2)} line before the next block at "
                                 f"line {line}; the block is truncated")
            open_marker, begun = marker, line
            continue
        if open_marker is None:
            raise TrustError(f"{source}: line {line} ends a {label} block that never began; "
                             "the start of the block is missing")
        if label != open_marker.group(2):
            raise TrustError(f"{source}: block {len(blocks) + 1} (line {begun}) begins as "
                             f"{open_marker.group(2)} but ends as {label} at line {line}")
        blocks.append(PemBlock(len(blocks) + 1, begun, label,
                               text[open_marker.end():marker.start()]))
        open_marker = None
    if open_marker is not None:
        raise TrustError(f"{source}: block {len(blocks) + 1} (line {begun}) has no "
                         f"END {open_marker.group(2)} line; the file is truncated")
    return blocks


def decode_block(block: PemBlock, source: str) -> bytes:
    """The DER bytes inside a PEM block."""
    body = "".join(block.body.split())
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise TrustError(f"{source}: {block.where}: the base64 text of the {block.label} "
                         "is corrupt or cut short") from None


def _from_pem(data: bytes, source: str) -> list[x509.Certificate]:
    blocks = scan_pem(data, source)
    for block in blocks:
        # Checked before anything is decoded, so no message can ever echo key material.
        if block.is_private_key:
            raise PrivateKeyInBundle(f"{source}: {block.where} is a private key "
                                     f"({block.label}); a certificate file must not hold one")
    certs: list[x509.Certificate] = []
    others: list[str] = []
    for block in blocks:
        if block.label in _CERTIFICATE_LABELS:
            certs.append(_der_certificate(decode_block(block, source), block, source))
        elif block.label in _PKCS7_LABELS:
            certs.extend(_der_pkcs7(decode_block(block, source), f"{source}: {block.where}"))
        elif block.label == "TRUSTED CERTIFICATE":
            raise TrustError(f"{source}: {block.where} is an OpenSSL TRUSTED CERTIFICATE; "
                             "convert it first with: openssl x509 -in FILE -out plain.pem")
        else:
            others.append(f"{block.label} at line {block.line}")
    if not certs:
        found = f" (found {', '.join(others)})" if others else ""
        raise TrustError(f"{source} holds no certificate{found}")
    return certs


def _der_certificate(der: bytes, block: PemBlock, source: str) -> x509.Certificate:
    cert = _readable_certificate(der)
    if cert is None:
        raise TrustError(f"{source}: {block.where} is not a readable certificate "
                         "(truncated or corrupt)")
    return cert


def _readable_certificate(der: bytes) -> x509.Certificate | None:
    """The certificate in ``der``, or None when any part of it cannot be read.

    cryptography parses names and extensions lazily, so a damaged extension would
    otherwise surface later, far from the file, as an exception of another type.
    """
    try:
        cert = x509.load_der_x509_certificate(der)
        _ = (cert.subject, cert.issuer, cert.extensions,
             cert.not_valid_before_utc, cert.not_valid_after_utc)
    except Exception:  # ValueError mostly, but damaged DER is not a documented contract
        return None
    return cert


def _der_pkcs7(der: bytes, where: str) -> list[x509.Certificate]:
    certs = _readable_pkcs7(der)
    if certs is None:
        raise TrustError(f"{where} is not a readable PKCS#7 bundle (truncated or corrupt)")
    return certs


def _readable_pkcs7(der: bytes) -> list[x509.Certificate] | None:
    try:
        certs = list(pkcs7.load_der_pkcs7_certificates(der))
    except Exception:
        return None
    readable = [_readable_certificate(c.public_bytes(serialization.Encoding.DER)) for c in certs]
    if any(c is None for c in readable):
        return None
    return [c for c in readable if c is not None]


def _from_binary_or_text(data: bytes, source: str) -> list[x509.Certificate]:
    if data[0] == _DER_SEQUENCE:
        cert = _readable_certificate(data)
        if cert is not None:
            return [cert]
        certs = _readable_pkcs7(data)
        if certs is not None:
            if not certs:
                raise TrustError(f"{source} is a PKCS#7 bundle with no certificate in it")
            return certs
        if _is_der_private_key(data):
            raise PrivateKeyInBundle(f"{source} is a private key (DER); "
                                     "a certificate file must not hold one")
        raise TrustError(f"{source} is binary data that is neither a DER certificate nor a "
                         "PKCS#7 bundle (truncated or corrupt?)")
    if _looks_like_text(data):
        raise TrustError(f"{source} holds no certificate "
                         "(no -----BEGIN CERTIFICATE----- block in it)")
    raise TrustError(f"{source} is not a certificate file: neither PEM text, "
                     "a DER certificate nor a PKCS#7 bundle")


def _is_der_private_key(data: bytes) -> bool:
    try:
        serialization.load_der_private_key(data, password=None)
    except TypeError:
        return True  # cryptography's word for "encrypted, and no password given"
    except Exception:
        return False
    return True


def _looks_like_text(data: bytes) -> bool:
    if b"\x00" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _distinct(certs: list[x509.Certificate]) -> list[x509.Certificate]:
    seen: set[str] = set()
    distinct = []
    for cert in certs:
        fingerprint = sha256_hex(cert)
        if fingerprint not in seen:
            seen.add(fingerprint)
            distinct.append(cert)
    return distinct

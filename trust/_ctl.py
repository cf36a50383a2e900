"""Cisco Unified CM CTL and ITL files (``CTLFile.tlv``, ``ITLFile.tlv``): write, read, verify.

The layout is the public TLV format: every element is a tag byte, a two-byte big-endian
length and the value, except the header's padding tag 13, a single byte. The header
(version, header length, signer, signature, file name, timestamp) is followed by one
record per certificate, each opened by its own length. The signature is PKCS#1 v1.5
over the whole file with the SIGNATURE element (tag, length and value) taken out, and
a reader checks it with the SAST record whose serial number is the header's.

Where the public format leaves a value open, the choice here is stated beside it.
"""
from __future__ import annotations

import enum
import hashlib
import ipaddress
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from xsp_trust._errors import TrustError

VERSION = (1, 2)
# The header is padded with tag-13 bytes to a multiple of this (the emulator's choice:
# the format only says the header is padded up to HEADER_LENGTH).
_HEADER_ALIGN = 4
_MAX_ELEMENT = 0xFFFF


class HeaderTag(enum.IntEnum):
    VERSION = 1
    HEADER_LENGTH = 2
    SIGNER_INFO = 3
    SIGNER_NAME = 4
    SERIAL_NUMBER = 5
    ISSUER_NAME = 6
    SIGNATURE_INFO = 7
    HASH_ALGORITHM = 8
    SIGNATURE_ALGORITHM_INFO = 9
    SIGNATURE_ALGORITHM = 10
    SIGNATURE_MODULUS = 11
    SIGNATURE = 12
    PADDING = 13
    FILENAME = 14
    TIMESTAMP = 15
    SIGNER_VERSION = 28


class RecordTag(enum.IntEnum):
    RECORD_LENGTH = 1
    DNS_NAME = 2
    SUBJECT_NAME = 3
    ROLE = 4
    ISSUER_NAME = 5
    SERIAL_NUMBER = 6
    PUBLIC_KEY = 7
    SIGNATURE = 8
    CERTIFICATE = 9
    IP_ADDRESS = 10
    CERTIFICATE_HASH = 11
    HASH_ALGORITHM = 12


class CtlRole(enum.IntEnum):
    SAST = 0
    CCM = 1
    CCM_TFTP = 2
    TFTP = 3
    CAPF = 4
    APP_SERVER = 7
    TVS = 21

    @property
    def label(self) -> str:
        return {"CCM_TFTP": "CCM+TFTP", "APP_SERVER": "APP-SERVER"}.get(self.name, self.name)


class HashAlgorithm(enum.IntEnum):
    SHA1 = 1
    SHA256 = 2
    SHA512 = 3


# Readers in the field (phones, JTAPI, TSP) accept SHA-1 and SHA-512 signatures only.
ACCEPTED_HASHES = (HashAlgorithm.SHA1, HashAlgorithm.SHA512)
_HASHES: dict[int, type[hashes.SHA1 | hashes.SHA256 | hashes.SHA512]] = {
    HashAlgorithm.SHA1: hashes.SHA1, HashAlgorithm.SHA256: hashes.SHA256,
    HashAlgorithm.SHA512: hashes.SHA512}
# SIGNATURE_ALGORITHM 1 is RSA (PKCS#1 v1.5), the only kind the format signs with.
_RSA = 1
# A CTL holds at most two SAST records (the format's rule).
MAX_SAST = 2


class CtlReason(enum.Enum):
    """Why a file is refused, in the words a user reads."""
    TRUNCATED = "truncated"
    MALFORMED = "malformed"
    NO_SAST = "no SAST record"
    WRONG_SIGNER = "wrong signer"
    BAD_SIGNATURE = "bad signature"
    UNSUPPORTED_HASH = "unsupported hash algorithm"


class CtlError(TrustError):
    def __init__(self, reason: CtlReason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class CtlEntry:
    """One certificate to list in a file, with the role it has there."""
    role: CtlRole
    certificate: x509.Certificate
    dns_name: str = ""
    ip_address: str = ""


@dataclass(frozen=True)
class CtlRecord:
    """A record read back from a file."""
    role: int
    dns_name: str
    subject_name: str
    issuer_name: str
    serial_number: bytes
    ip_address: str
    certificate_hash: bytes
    certificate: x509.Certificate | None

    @property
    def role_label(self) -> str:
        try:
            return CtlRole(self.role).label
        except ValueError:
            return f"unknown role {self.role}"


@dataclass(frozen=True)
class CtlFile:
    version: tuple[int, int]
    header_length: int
    signer_name: str
    signer_serial: bytes
    signer_issuer: str
    hash_algorithm: int
    signature_algorithm: int
    signature_modulus: int
    signature: bytes
    filename: str
    timestamp: int
    records: tuple[CtlRecord, ...]
    # The file without its SIGNATURE element: what the signature covers.
    signed_bytes: bytes = field(repr=False)
    size: int = 0

    def sast_records(self) -> list[CtlRecord]:
        return [r for r in self.records if r.role == CtlRole.SAST]

    def signer_record(self) -> CtlRecord | None:
        return next((r for r in self.sast_records() if r.serial_number == self.signer_serial), None)


# --- writing ------------------------------------------------------------------------

def _tlv(tag: int, value: bytes) -> bytes:
    if len(value) > _MAX_ELEMENT:
        raise TrustError(f"element {tag} is {len(value)} bytes; the format allows {_MAX_ELEMENT}")
    return struct.pack(">BH", tag, len(value)) + value


def _text(value: str) -> bytes:
    return value.encode("utf-8") + b"\0"


def serial_bytes(certificate: x509.Certificate) -> bytes:
    """The serial number as the format carries it: unsigned big-endian, no sign byte."""
    serial = certificate.serial_number
    return serial.to_bytes(max(1, (serial.bit_length() + 7) // 8), "big")


def _record(entry: CtlEntry) -> bytes:
    cert = entry.certificate
    der = cert.public_bytes(serialization.Encoding.DER)
    public_key = cert.public_key().public_bytes(serialization.Encoding.DER,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)
    body = b"".join([
        _tlv(RecordTag.DNS_NAME, _text(entry.dns_name)),
        _tlv(RecordTag.SUBJECT_NAME, _text(cert.subject.rfc4514_string())),
        _tlv(RecordTag.ROLE, struct.pack(">H", entry.role)),
        _tlv(RecordTag.ISSUER_NAME, _text(cert.issuer.rfc4514_string())),
        _tlv(RecordTag.SERIAL_NUMBER, serial_bytes(cert)),
        _tlv(RecordTag.PUBLIC_KEY, public_key),
        _tlv(RecordTag.SIGNATURE, cert.signature),
        _tlv(RecordTag.CERTIFICATE, der),
        *([_tlv(RecordTag.IP_ADDRESS, _text(entry.ip_address))] if entry.ip_address else []),
        _tlv(RecordTag.CERTIFICATE_HASH, hashlib.sha1(der).digest()),
        _tlv(RecordTag.HASH_ALGORITHM, bytes([HashAlgorithm.SHA1])),
    ])
    length = 3 + 2 + len(body)
    return _tlv(RecordTag.RECORD_LENGTH, struct.pack(">H", length)) + body


def write_ctl(filename: str, entries: Sequence[CtlEntry], signer: x509.Certificate,
              signer_key: rsa.RSAPrivateKey, *, timestamp: int,
              hash_algorithm: HashAlgorithm = HashAlgorithm.SHA512) -> bytes:
    """The signed file. ``signer`` must be one of the SAST entries, with an RSA key."""
    if not isinstance(signer_key, rsa.RSAPrivateKey):
        raise TrustError("a CTL is signed with PKCS#1 v1.5: the signer needs an RSA key")
    if hash_algorithm not in ACCEPTED_HASHES:
        raise TrustError(f"readers accept SHA1 and SHA512 signatures, not {hash_algorithm.name}")
    sast = [e for e in entries if e.role == CtlRole.SAST]
    if not any(e.certificate == signer for e in sast):
        raise TrustError("the signer must be listed as a SAST record")
    if len(sast) > MAX_SAST:
        raise TrustError(f"a CTL holds at most {MAX_SAST} SAST records, not {len(sast)}")
    if not 0 <= timestamp <= 0xFFFFFFFF:
        raise TrustError(f"timestamp {timestamp} does not fit in four bytes")
    modulus_bytes = signer_key.key_size // 8
    signer_info = (_tlv(HeaderTag.SIGNER_NAME, _text(signer.subject.rfc4514_string()))
                   + _tlv(HeaderTag.SERIAL_NUMBER, serial_bytes(signer))
                   + _tlv(HeaderTag.ISSUER_NAME, _text(signer.issuer.rfc4514_string())))
    # The modulus is given in bytes, two of them (the emulator's choice: the public
    # format names the element, not its encoding).
    algorithm_info = (_tlv(HeaderTag.SIGNATURE_ALGORITHM, bytes([_RSA]))
                      + _tlv(HeaderTag.SIGNATURE_MODULUS, struct.pack(">H", modulus_bytes)))

    def header(header_length: int, signature: bytes) -> tuple[bytes, int, int]:
        head = _tlv(HeaderTag.VERSION, bytes(VERSION)) + _tlv(HeaderTag.HEADER_LENGTH,
                                                               struct.pack(">H", header_length))
        head += _tlv(HeaderTag.SIGNER_INFO, signer_info)
        info_prefix = _tlv(HeaderTag.HASH_ALGORITHM, bytes([hash_algorithm])) + _tlv(
            HeaderTag.SIGNATURE_ALGORITHM_INFO, algorithm_info)
        sig = _tlv(HeaderTag.SIGNATURE, signature)
        head += struct.pack(">BH", HeaderTag.SIGNATURE_INFO, len(info_prefix) + len(sig)) + info_prefix
        start = len(head)
        head += sig
        end = len(head)
        head += _tlv(HeaderTag.FILENAME, _text(filename)) + _tlv(HeaderTag.TIMESTAMP,
                                                                  struct.pack(">I", timestamp))
        return head, start, end

    unpadded, _, _ = header(0, bytes(modulus_bytes))
    header_length = -(-len(unpadded) // _HEADER_ALIGN) * _HEADER_ALIGN
    head, start, end = header(header_length, bytes(modulus_bytes))
    head += bytes([HeaderTag.PADDING]) * (header_length - len(head))
    body = b"".join(_record(e) for e in entries)
    unsigned = head[:start] + head[end:] + body
    signature = signer_key.sign(unsigned, padding.PKCS1v15(), _HASHES[hash_algorithm]())
    return head[:start] + _tlv(HeaderTag.SIGNATURE, signature) + head[end:] + body


# --- reading ------------------------------------------------------------------------

class _Reader:
    def __init__(self, data: bytes, start: int, end: int, where: str) -> None:
        self.data, self.pos, self.end, self.where = data, start, end, where

    def element(self) -> tuple[int, int, bytes, int]:
        """(tag, start offset, value, end offset) of the next element."""
        start = self.pos
        if start + 3 > self.end:
            raise CtlError(CtlReason.TRUNCATED, f"{self.where}: an element header at byte {start} "
                           f"runs past the end ({self.end} bytes)")
        tag, length = struct.unpack_from(">BH", self.data, start)
        if start + 3 + length > self.end:
            raise CtlError(CtlReason.TRUNCATED, f"{self.where}: element {tag} at byte {start} needs "
                           f"{length} bytes, {self.end - start - 3} remain")
        self.pos = start + 3 + length
        return tag, start, self.data[start + 3:self.pos], self.pos

    @property
    def done(self) -> bool:
        return self.pos >= self.end


def _fixed(value: bytes, size: int, what: str) -> int:
    if len(value) != size:
        raise CtlError(CtlReason.MALFORMED, f"{what} is {len(value)} bytes, expected {size}")
    return int.from_bytes(value, "big")


def _decode_text(value: bytes, what: str) -> str:
    if not value.endswith(b"\0"):
        raise CtlError(CtlReason.MALFORMED, f"{what} is not NUL-terminated")
    try:
        return value[:-1].decode("utf-8")
    except UnicodeDecodeError:
        raise CtlError(CtlReason.MALFORMED, f"{what} is not UTF-8 text") from None


def _children(value: bytes, what: str) -> dict[int, bytes]:
    reader, found = _Reader(value, 0, len(value), what), {}
    while not reader.done:
        tag, _, inner, _ = reader.element()
        found[tag] = inner
    return found


def read_ctl(data: bytes) -> CtlFile:
    """Parse a file; refuses with ``CtlError`` (truncated or malformed). Checks no signature."""
    if len(data) < 8:
        raise CtlError(CtlReason.TRUNCATED, f"{len(data)} bytes cannot hold a header")
    top = _Reader(data, 0, len(data), "header")
    tag, _, value, _ = top.element()
    if tag != HeaderTag.VERSION:
        raise CtlError(CtlReason.MALFORMED, f"the file starts with element {tag}, not VERSION")
    version = tuple(value) if len(value) == 2 else None
    if version is None:
        raise CtlError(CtlReason.MALFORMED, "VERSION is not two bytes")
    tag, _, value, _ = top.element()
    if tag != HeaderTag.HEADER_LENGTH:
        raise CtlError(CtlReason.MALFORMED, f"the second element is {tag}, not HEADER_LENGTH")
    header_length = _fixed(value, 2, "HEADER_LENGTH")
    if header_length > len(data):
        raise CtlError(CtlReason.TRUNCATED, f"the header is {header_length} bytes, the file {len(data)}")
    top.end = header_length
    fields: dict[int, bytes] = {}
    signature_span: tuple[int, int] | None = None
    while not top.done:
        if data[top.pos] == HeaderTag.PADDING:
            top.pos += 1
            continue
        tag, start, value, end = top.element()
        if tag == HeaderTag.SIGNATURE_INFO:
            # The SIGNATURE element sits inside SIGNATURE_INFO; the signed bytes leave
            # out exactly its tag, length and value.
            inner = _Reader(data, start + 3, end, "SIGNATURE_INFO")
            while not inner.done:
                itag, istart, ivalue, iend = inner.element()
                fields[itag] = ivalue
                if itag == HeaderTag.SIGNATURE:
                    signature_span = (istart, iend)
                elif itag == HeaderTag.SIGNATURE_ALGORITHM_INFO:
                    fields.update(_children(ivalue, "SIGNATURE_ALGORITHM_INFO"))
        elif tag == HeaderTag.SIGNER_INFO:
            fields.update(_children(value, "SIGNER_INFO"))
        else:
            fields[tag] = value
    for needed in (HeaderTag.SIGNER_NAME, HeaderTag.SERIAL_NUMBER, HeaderTag.HASH_ALGORITHM,
                   HeaderTag.FILENAME, HeaderTag.TIMESTAMP):
        if needed not in fields:
            raise CtlError(CtlReason.MALFORMED, f"the header has no {needed.name}")
    if signature_span is None:
        raise CtlError(CtlReason.MALFORMED, "the header has no SIGNATURE")
    records: list[CtlRecord] = []
    pos = header_length
    while pos < len(data):
        reader = _Reader(data, pos, len(data), f"record {len(records) + 1}")
        tag, _, value, _ = reader.element()
        if tag != RecordTag.RECORD_LENGTH:
            raise CtlError(CtlReason.MALFORMED, f"record {len(records) + 1} starts with element {tag}")
        length = _fixed(value, 2, "RECORD_LENGTH")
        if length < 5:
            raise CtlError(CtlReason.MALFORMED, f"record {len(records) + 1} claims {length} bytes")
        if pos + length > len(data):
            raise CtlError(CtlReason.TRUNCATED, f"record {len(records) + 1} needs {length} bytes, "
                           f"{len(data) - pos} remain")
        reader.end = pos + length
        records.append(_record_from(reader, len(records) + 1))
        pos += length
    start, end = signature_span
    return CtlFile(
        version=(version[0], version[1]), header_length=header_length,
        signer_name=_decode_text(fields[HeaderTag.SIGNER_NAME], "SIGNER_NAME"),
        signer_serial=fields[HeaderTag.SERIAL_NUMBER],
        signer_issuer=_decode_text(fields.get(HeaderTag.ISSUER_NAME, b"\0"), "ISSUER_NAME"),
        hash_algorithm=_fixed(fields[HeaderTag.HASH_ALGORITHM], 1, "HASH_ALGORITHM"),
        signature_algorithm=_fixed(fields.get(HeaderTag.SIGNATURE_ALGORITHM, b"\1"), 1,
                                   "SIGNATURE_ALGORITHM"),
        signature_modulus=_fixed(fields.get(HeaderTag.SIGNATURE_MODULUS, b"\0\0"), 2,
                                 "SIGNATURE_MODULUS"),
        signature=fields[HeaderTag.SIGNATURE],
        filename=_decode_text(fields[HeaderTag.FILENAME], "FILENAME"),
        timestamp=_fixed(fields[HeaderTag.TIMESTAMP], 4, "TIMESTAMP"),
        records=tuple(records), signed_bytes=data[:start] + data[end:], size=len(data))


def _record_from(reader: _Reader, number: int) -> CtlRecord:
    fields: dict[int, bytes] = {}
    while not reader.done:
        tag, _, value, _ = reader.element()
        fields[tag] = value
    where = f"record {number}"
    if RecordTag.ROLE not in fields:
        raise CtlError(CtlReason.MALFORMED, f"{where} has no ROLE")
    certificate = None
    if RecordTag.CERTIFICATE in fields:
        try:
            certificate = x509.load_der_x509_certificate(fields[RecordTag.CERTIFICATE])
        except ValueError:
            raise CtlError(CtlReason.MALFORMED, f"{where}: CERTIFICATE is not a DER certificate") from None
    ip = _decode_text(fields.get(RecordTag.IP_ADDRESS, b"\0"), f"{where} IP_ADDRESS")
    if ip:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise CtlError(CtlReason.MALFORMED, f"{where}: IP_ADDRESS {ip!r} is not an address") from None
    return CtlRecord(
        role=_fixed(fields[RecordTag.ROLE], 2, f"{where} ROLE"),
        dns_name=_decode_text(fields.get(RecordTag.DNS_NAME, b"\0"), f"{where} DNS_NAME"),
        subject_name=_decode_text(fields.get(RecordTag.SUBJECT_NAME, b"\0"), f"{where} SUBJECT_NAME"),
        issuer_name=_decode_text(fields.get(RecordTag.ISSUER_NAME, b"\0"), f"{where} ISSUER_NAME"),
        serial_number=fields.get(RecordTag.SERIAL_NUMBER, b""),
        ip_address=ip,
        certificate_hash=fields.get(RecordTag.CERTIFICATE_HASH, b""),
        certificate=certificate)


# --- verifying ----------------------------------------------------------------------

def verify_ctl(data: bytes, trusted: CtlFile | None = None) -> CtlFile:
    """Read and verify a file, as a client does on download.

    Without ``trusted`` (a first download) the file must verify against its own SAST
    record; with it, the signer must also be a SAST of the file the client already holds.
    """
    parsed = read_ctl(data)
    sast = parsed.sast_records()
    if not sast:
        raise CtlError(CtlReason.NO_SAST, "the file lists no SAST record to verify its signature with")
    if parsed.hash_algorithm not in ACCEPTED_HASHES:
        raise CtlError(CtlReason.UNSUPPORTED_HASH, f"hash algorithm {parsed.hash_algorithm}; "
                       "readers accept 1 (SHA1) and 3 (SHA512)")
    signer = parsed.signer_record()
    if signer is None or signer.certificate is None:
        raise CtlError(CtlReason.WRONG_SIGNER, f"the signer {parsed.signer_name} (serial "
                       f"{parsed.signer_serial.hex()}) is not one of the file's SAST records")
    if trusted is not None and not any(r.certificate == signer.certificate
                                       for r in trusted.sast_records()):
        raise CtlError(CtlReason.WRONG_SIGNER, f"the signer {parsed.signer_name} is not a SAST of "
                       "the CTL already held")
    key = signer.certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise CtlError(CtlReason.BAD_SIGNATURE, "the signer's key is not RSA")
    try:
        key.verify(parsed.signature, parsed.signed_bytes, padding.PKCS1v15(),
                   _HASHES[HashAlgorithm(parsed.hash_algorithm)]())
    except InvalidSignature:
        raise CtlError(CtlReason.BAD_SIGNATURE, f"the signature does not verify with the key of "
                       f"{parsed.signer_name}") from None
    return parsed


def describe_ctl(parsed: CtlFile) -> list[str]:
    """The file as ``show ctl`` prints it: header, then one block per record."""
    lines = [
        f"Version: {parsed.version[0]}.{parsed.version[1]}",
        f"HeaderLength: {parsed.header_length} (BYTES)",
        f"FileName: {parsed.filename}",
        f"Timestamp: {parsed.timestamp}",
        f"SignerName: {parsed.signer_name}",
        f"SerialNumber: {parsed.signer_serial.hex().upper()}",
        f"IssuerName: {parsed.signer_issuer}",
        f"HashAlgorithm: {_hash_name(parsed.hash_algorithm)}",
        f"Records: {len(parsed.records)}",
    ]
    for number, record in enumerate(parsed.records, 1):
        lines += [
            "",
            f"{number}",
            "----",
            f"Function: {record.role_label}",
            f"DNSName: {record.dns_name}",
            f"SubjectName: {record.subject_name}",
            f"IssuerName: {record.issuer_name}",
            f"SerialNumber: {record.serial_number.hex().upper()}",
            f"IP Address: {record.ip_address}",
            f"Certificate Hash: {record.certificate_hash.hex().upper()}",
        ]
    return lines


def _hash_name(value: int) -> str:
    try:
        return HashAlgorithm(value).name
    except ValueError:
        return f"unknown ({value})"

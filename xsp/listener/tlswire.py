"""Just enough of the TLS wire format to say what happened in a refused handshake.

OpenSSL decides; this module only reads what it sent and received: the alert in the
records written to the socket, the versions and suites a ClientHello offered, and the
certificates a client's Certificate message carried. Every parser returns None (or an
empty result) on bytes it does not understand rather than raising: a refusal report
must never fail because a client sent garbage.
"""
from __future__ import annotations

from dataclasses import dataclass

CONTENT_ALERT = 21
CONTENT_HANDSHAKE = 22
CONTENT_APPLICATION_DATA = 23

HANDSHAKE_CLIENT_HELLO = 1
HANDSHAKE_CERTIFICATE = 11

_EXT_SERVER_NAME = 0
_EXT_SIGNATURE_ALGORITHMS = 13
_EXT_SUPPORTED_VERSIONS = 43

# RFC 8446 4.2.3, with the TLS 1.2 (hash, signature) pairs of RFC 5246 a client may offer.
SIGNATURE_SCHEME_NAMES: dict[int, str] = {
    0x0401: "rsa_pkcs1_sha256", 0x0501: "rsa_pkcs1_sha384", 0x0601: "rsa_pkcs1_sha512",
    0x0403: "ecdsa_secp256r1_sha256", 0x0503: "ecdsa_secp384r1_sha384",
    0x0603: "ecdsa_secp521r1_sha512", 0x0804: "rsa_pss_rsae_sha256",
    0x0805: "rsa_pss_rsae_sha384", 0x0806: "rsa_pss_rsae_sha512", 0x0807: "ed25519",
    0x0808: "ed448", 0x0809: "rsa_pss_pss_sha256", 0x080A: "rsa_pss_pss_sha384",
    0x080B: "rsa_pss_pss_sha512", 0x0201: "rsa_pkcs1_sha1", 0x0203: "ecdsa_sha1",
    0x0202: "dsa_sha1", 0x0101: "rsa_pkcs1_md5", 0x0301: "rsa_pkcs1_sha224",
    0x0303: "ecdsa_sha224", 0x0402: "dsa_sha256",
}

# RFC 8446 section 6 with the TLS 1.2 alerts it reserves (RFC 5246); the "_RESERVED"
# suffix is dropped because a TLS 1.2 peer still sends some of them (no_renegotiation).
ALERT_NAMES: dict[int, str] = {
    0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac",
    21: "decryption_failed", 22: "record_overflow", 30: "decompression_failure",
    40: "handshake_failure", 41: "no_certificate", 42: "bad_certificate",
    43: "unsupported_certificate", 44: "certificate_revoked", 45: "certificate_expired",
    46: "certificate_unknown", 47: "illegal_parameter", 48: "unknown_ca",
    49: "access_denied", 50: "decode_error", 51: "decrypt_error",
    60: "export_restriction", 70: "protocol_version", 71: "insufficient_security",
    80: "internal_error", 86: "inappropriate_fallback", 90: "user_canceled",
    100: "no_renegotiation", 109: "missing_extension", 110: "unsupported_extension",
    111: "certificate_unobtainable", 112: "unrecognized_name",
    113: "bad_certificate_status_response", 114: "bad_certificate_hash_value",
    115: "unknown_psk_identity", 116: "certificate_required",
    120: "no_application_protocol",
}

VERSION_NAMES: dict[int, str] = {
    0x0300: "SSLv3", 0x0301: "TLSv1", 0x0302: "TLSv1.1", 0x0303: "TLSv1.2", 0x0304: "TLSv1.3",
}


def alert_name(description: int) -> str:
    return ALERT_NAMES.get(description, f"alert {description}")


def version_name(version: int) -> str:
    return VERSION_NAMES.get(version, f"0x{version:04X}")


def _is_grease(value: int) -> bool:
    # RFC 8701 values (0x0A0A, 0x1A1A, ...) that clients sprinkle in to keep servers honest.
    return value & 0x0F0F == 0x0A0A and value >> 8 == value & 0xFF


@dataclass(frozen=True)
class RecordScan:
    """What the bytes written to the socket after a failure contained."""

    plaintext_alert: int | None  # description byte of the last plaintext alert record
    encrypted_records: bool  # TLS 1.3 hides an alert in an application_data record


def scan_records(data: bytes) -> RecordScan:
    """Walk the TLS records in ``data`` (whole records, as OpenSSL writes them)."""
    alert: int | None = None
    encrypted = False
    offset = 0
    while offset + 5 <= len(data):
        content_type = data[offset]
        length = int.from_bytes(data[offset + 3:offset + 5], "big")
        body = data[offset + 5:offset + 5 + length]
        if content_type == CONTENT_ALERT and len(body) == 2:
            alert = body[1]
        elif content_type == CONTENT_APPLICATION_DATA:
            encrypted = True
        offset += 5 + length
    return RecordScan(alert, encrypted)


class _Reader:
    """Length-prefixed fields of a handshake message; raises ValueError past the end."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def take(self, size: int) -> bytes:
        if self._pos + size > len(self._data):
            raise ValueError("truncated")
        chunk = self._data[self._pos:self._pos + size]
        self._pos += size
        return chunk

    def number(self, size: int) -> int:
        return int.from_bytes(self.take(size), "big")

    def vector(self, length_size: int) -> bytes:
        return self.take(self.number(length_size))

    @property
    def remaining(self) -> int:
        return len(self._data) - self._pos


@dataclass(frozen=True)
class ClientHello:
    legacy_version: int
    supported_versions: tuple[int, ...]  # empty when the client sent no such extension
    cipher_suites: tuple[int, ...]
    server_name: str | None
    signature_algorithms: tuple[int, ...] = ()

    @property
    def offered_versions(self) -> str:
        """The versions in plain words: a list, or 'TLSv1.1 at most' for a legacy hello."""
        if self.supported_versions:
            return ", ".join(version_name(v) for v in self.supported_versions)
        return f"{version_name(self.legacy_version)} at most"


def parse_client_hello(message: bytes) -> ClientHello | None:
    """A ClientHello handshake message (4-byte header included), or None."""
    try:
        reader = _Reader(message)
        if reader.number(1) != HANDSHAKE_CLIENT_HELLO:
            return None
        body = _Reader(reader.vector(3))
        legacy_version = body.number(2)
        body.take(32)  # random
        body.vector(1)  # legacy_session_id
        suites_raw = body.vector(2)
        suites = tuple(int.from_bytes(suites_raw[i:i + 2], "big")
                       for i in range(0, len(suites_raw) - 1, 2))
        body.vector(1)  # compression methods
        versions: tuple[int, ...] = ()
        server_name: str | None = None
        schemes: tuple[int, ...] = ()
        if body.remaining:
            extensions = _Reader(body.vector(2))
            while extensions.remaining:
                ext_type = extensions.number(2)
                ext = _Reader(extensions.vector(2))
                if ext_type == _EXT_SUPPORTED_VERSIONS:
                    listed = ext.vector(1)
                    versions = tuple(int.from_bytes(listed[i:i + 2], "big")
                                     for i in range(0, len(listed) - 1, 2))
                elif ext_type == _EXT_SIGNATURE_ALGORITHMS:
                    listed = ext.vector(2)
                    schemes = tuple(int.from_bytes(listed[i:i + 2], "big")
                                    for i in range(0, len(listed) - 1, 2))
                elif ext_type == _EXT_SERVER_NAME:
                    names = _Reader(ext.vector(2))
                    if names.number(1) == 0:  # host_name
                        server_name = names.vector(2).decode("ascii", "replace")
    except ValueError:
        return None
    return ClientHello(legacy_version,
                       tuple(v for v in versions if not _is_grease(v)),
                       tuple(s for s in suites if not _is_grease(s)), server_name,
                       tuple(s for s in schemes if not _is_grease(s)))


def signature_scheme_name(scheme: int) -> str:
    return SIGNATURE_SCHEME_NAMES.get(scheme, f"0x{scheme:04X}")


def parse_certificate_message(message: bytes, *, tls13: bool) -> list[bytes]:
    """The DER certificates of a Certificate handshake message, leaf first; [] if none."""
    try:
        reader = _Reader(message)
        if reader.number(1) != HANDSHAKE_CERTIFICATE:
            return []
        body = _Reader(reader.vector(3))
        if tls13:
            body.vector(1)  # certificate_request_context
        entries = _Reader(body.vector(3))
        certificates: list[bytes] = []
        while entries.remaining:
            certificates.append(entries.vector(3))
            if tls13:
                entries.vector(2)  # per-certificate extensions
        return certificates
    except ValueError:
        return []


def looks_like_tls(first_bytes: bytes) -> bool:
    """Whether a connection's first bytes can start a TLS handshake record."""
    return not first_bytes or first_bytes[0] == CONTENT_HANDSHAKE


def looks_like_http(first_bytes: bytes) -> bool:
    """An HTTP/1.x request line starts with an upper-case method and a space."""
    method, space, _ = first_bytes.partition(b" ")
    return bool(space) and 3 <= len(method) <= 7 and method.isalpha() and method.isupper()

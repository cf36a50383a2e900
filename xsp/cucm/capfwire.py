"""The CAPF protocol, version 3: message framing and elements, without any I/O.

Every message is an 8-byte big-endian header (protocol id 85, command, a session id the
server chooses and the client echoes, body length) and a body of TLV elements (tag
byte, two-byte length, value). ``Decoder`` turns received bytes into messages and
refuses what the format cannot hold; ``Message.encode`` does the reverse.
"""
from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

PROTOCOL_ID = 85
VERSION = 3
HEADER = struct.Struct(">BBIH")
MAX_BODY = 0xFFFF


class Command(enum.IntEnum):
    AUTH_REQUEST = 1
    AUTH_RESPONSE = 2
    KEY_GENERATE_REQUEST = 3
    KEY_GENERATE_RESPONSE = 4
    STORE_CERTIFICATE_REQUEST = 9
    STORE_CERTIFICATE_RESPONSE = 10
    FETCH_CERTIFICATE_REQUEST = 11
    FETCH_CERTIFICATE_RESPONSE = 12
    DELETE_CERTIFICATE_REQUEST = 13
    DELETE_CERTIFICATE_RESPONSE = 14
    END_SESSION = 15
    RETRY_LATER = 16
    REQUEST_IN_PROGRESS = 17
    STATUS_REQUEST = 18
    STATUS_RESPONSE = 19
    ABORT_REQUEST = 20
    ABORT_RESPONSE = 21
    SIGN_CERTIFICATE_REQUEST = 22
    SIGN_CERTIFICATE_RESPONSE = 23


class Tag(enum.IntEnum):
    REASON = 1
    REASON_INFO = 2
    CERTIFICATE_TYPE = 3
    CERTIFICATE = 4
    CERTIFICATE_ID = 5
    SIGNED_DATA = 6
    VERSION = 7
    AUTH_TYPE = 8
    PUBLIC_KEY = 9
    KEY_SIZE = 10
    PASSWORD = 11
    RETRY_DELAY = 12
    DEVICE_NAME = 13
    SUDI_DATA = 16
    KEY_TYPE = 17
    CURVE = 18
    DIGEST_TYPE = 19
    SHA2_SIGNED_DATA = 20


class Reason(enum.IntEnum):
    NO_ACTION = 0
    UPDATE_CERTIFICATE = 1
    INVALID_ELEMENT = 7
    UNKNOWN_DEVICE = 9


class KeyType(enum.IntEnum):
    RSA = 0
    EC = 1


class Curve(enum.IntEnum):
    P256 = 0
    P384 = 1
    P521 = 2


CURVE_BITS = {Curve.P256: 256, Curve.P384: 384, Curve.P521: 521}
CERTIFICATE_LSC = 1
CERTIFICATE_MIC = 2
# AUTH_TYPE of the AUTH_REQUEST: the value for "By Authentication String" is the
# emulator's choice (the public layout names the element, not its values).
AUTH_BY_STRING = 1


class ProtocolError(ValueError):
    """Bytes that are not a CAPF message; ``str()`` says what was wrong, in one line."""


@dataclass(frozen=True)
class Message:
    command: int
    session_id: int
    elements: tuple[tuple[int, bytes], ...] = ()

    def get(self, tag: int) -> bytes | None:
        return next((value for t, value in self.elements if t == tag), None)

    def byte(self, tag: int) -> int | None:
        value = self.get(tag)
        if value is None:
            return None
        if len(value) != 1:
            raise ProtocolError(f"{_tag_name(tag)} is {len(value)} bytes, expected 1")
        return value[0]

    def text(self, tag: int) -> str | None:
        value = self.get(tag)
        if value is None:
            return None
        if not value.endswith(b"\0"):
            raise ProtocolError(f"{_tag_name(tag)} is not NUL-terminated")
        try:
            return value[:-1].decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError(f"{_tag_name(tag)} is not UTF-8 text") from None

    def encode(self) -> bytes:
        body = b"".join(struct.pack(">BH", tag, len(value)) + value for tag, value in self.elements)
        if len(body) > MAX_BODY:
            raise ProtocolError(f"a body of {len(body)} bytes does not fit the 2-byte length")
        return HEADER.pack(PROTOCOL_ID, self.command, self.session_id, len(body)) + body

    @property
    def name(self) -> str:
        try:
            return Command(self.command).name
        except ValueError:
            return f"command {self.command}"


def _tag_name(tag: int) -> str:
    try:
        return Tag(tag).name
    except ValueError:
        return f"element {tag}"


def text(value: str) -> bytes:
    return value.encode("utf-8") + b"\0"


def u16(value: int) -> bytes:
    return struct.pack(">H", value)


def certificate_value(der: bytes, certificate_type: int = CERTIFICATE_LSC) -> bytes:
    """The CERTIFICATE element's value: tag 1, length of the rest, 0, the type, then DER."""
    return struct.pack(">BHBB", 1, len(der) + 2, 0, certificate_type) + der


def certificate_from_value(value: bytes) -> tuple[int, bytes]:
    """(certificate type, DER) from a CERTIFICATE element's value."""
    if len(value) < 5:
        raise ProtocolError("CERTIFICATE is shorter than its 5-byte prefix")
    tag, length, zero, certificate_type = struct.unpack_from(">BHBB", value)
    if tag != 1 or zero != 0 or length != len(value) - 3:
        raise ProtocolError("CERTIFICATE has a malformed 5-byte prefix")
    return certificate_type, value[5:]


def _parse_body(body: bytes) -> tuple[tuple[int, bytes], ...]:
    elements, pos = [], 0
    while pos < len(body):
        if pos + 3 > len(body):
            raise ProtocolError(f"an element header at byte {pos} of the body runs past its end")
        tag, length = struct.unpack_from(">BH", body, pos)
        if pos + 3 + length > len(body):
            raise ProtocolError(f"{_tag_name(tag)} needs {length} bytes, {len(body) - pos - 3} remain")
        elements.append((tag, body[pos + 3:pos + 3 + length]))
        pos += 3 + length
    return tuple(elements)


class Decoder:
    """Bytes in, messages out. Holds at most one message's worth of bytes."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Message]:
        self._buffer += data
        messages = []
        while len(self._buffer) >= HEADER.size:
            protocol, command, session_id, length = HEADER.unpack_from(self._buffer)
            if protocol != PROTOCOL_ID:
                raise ProtocolError(f"protocol id {protocol}, expected {PROTOCOL_ID}")
            if len(self._buffer) < HEADER.size + length:
                break
            body = bytes(self._buffer[HEADER.size:HEADER.size + length])
            del self._buffer[:HEADER.size + length]
            messages.append(Message(command, session_id, _parse_body(body)))
        return messages

    @property
    def pending(self) -> int:
        """Bytes received that do not make a whole message yet."""
        return len(self._buffer)

"""The emulator's own CTIManager framing (CTIQBE has no public wire specification).

What is public are the message names and their fields, through CTIManager traces; the
bytes here are the emulator's choice. Every message is a 4-byte big-endian header (the
PDU number, then the body length) and a body that is one UTF-8 JSON object holding the
message's fields, named as the traces name them. The PDU number says which message it
is; the decoder refuses a frame whose PDU it does not know, whose body is not a JSON
object, or whose length passes ``MAX_BODY``, so a peer can never make it buffer more.
Sans-I/O: ``Decoder.feed(bytes)`` gives messages, ``Message.encode()`` gives bytes.
"""
from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from typing import Any

HEADER = struct.Struct(">HH")
MAX_BODY = 16 * 1024

# PDU numbers: the emulator's own.
PDUS: dict[str, int] = {
    "ProviderOpenRequest": 1,
    "ProviderOpenResponse": 2,
    "ProviderOpenCompletedEvent": 3,
    "ProviderCloseRequest": 4,
    "ProviderCloseResponse": 5,
    "ProviderClosedEvent": 6,
    "HeartbeatRequest": 7,
    "HeartbeatResponse": 8,
    "DeviceOpenRequest": 20,
    "DeviceOpenResponse": 21,
    "DeviceInServiceEvent": 22,
    "DeviceOutOfServiceEvent": 23,
}
NAMES = {number: name for name, number in PDUS.items()}


class FramingError(Exception):
    """The bytes are not a message of this framing; ``str()`` is one line."""


@dataclass(frozen=True)
class Message:
    name: str
    fields: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.name not in PDUS:
            raise ValueError(f"no CTI message {self.name!r}")

    def get(self, key: str, default: Any = None) -> Any:
        return self.fields.get(key, default)

    def encode(self) -> bytes:
        body = json.dumps(self.fields, separators=(",", ":"), ensure_ascii=False).encode()
        if len(body) > MAX_BODY:
            raise ValueError(f"{self.name}: body of {len(body)} bytes is over {MAX_BODY}")
        return HEADER.pack(PDUS[self.name], len(body)) + body

    def describe(self) -> str:
        """As a trace line shows it: ``ProviderOpenResponse (seq#=2 providerId=16777223)``."""
        shown = " ".join(f"{k}={_shown(v)}" for k, v in self.fields.items() if k != "password")
        return f"{self.name} ({shown})"


def _shown(value: Any) -> str:
    # CTI error codes read as the 0x8CCCxxxx a user looks up.
    if isinstance(value, int) and value >= 0x80000000 and value <= 0xFFFFFFFF and value != 0xFFFFFFFF:
        return f"0x{value:08X}"
    return str(value)


class Decoder:
    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Message]:
        self._buffer += data
        messages: list[Message] = []
        while len(self._buffer) >= HEADER.size:
            pdu, length = HEADER.unpack_from(self._buffer)
            name = NAMES.get(pdu)
            if name is None:
                raise FramingError(f"unknown PDU {pdu}")
            if length > MAX_BODY:
                raise FramingError(f"{name}: body length {length} is over {MAX_BODY}")
            if len(self._buffer) < HEADER.size + length:
                break
            body = bytes(self._buffer[HEADER.size:HEADER.size + length])
            del self._buffer[:HEADER.size + length]
            try:
                fields = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                raise FramingError(f"{name}: the body is not UTF-8 JSON") from None
            if not isinstance(fields, dict):
                raise FramingError(f"{name}: the body is not a JSON object")
            messages.append(Message(name, fields))
        return messages

"""The CTI errors a refused provider or device open carries: the 32-bit CTI error code and
the words the TSP/JTAPI side shows the user.

The words are those of Cisco's TSP/JTAPI messages (see the README); the codes marked
"notes" are the public ones, the rest are the emulator's own picks in the same 0x8CCC
range, since Cisco publishes no complete table.
"""
from __future__ import annotations

import enum


class CtiCode(enum.Enum):
    # (code, TSP words)
    AUTHENTICATION_FAILED = (0x8CCC0060, "Authentication failed - Check UserID and Password")
    # notes: "Directory login failed - User not present in Standard CTI Users group"
    NOT_CTI_USER = (0x8CCC005F, "Initialization failed - User not configured in Cisco Unified CM "
                                "for CTI usage")
    NOT_SECURE_USER = (0x8CCC00E0, "Initialization failed - User not configured in Cisco Unified CM "
                                   "for secure CTI usage")
    SECURITY_MISMATCH = (0x8CCC00E1, "Initialization failed - security configuration does not match "
                                     "with Unified CM TSP")
    INVALID_CERTIFICATE = (0x8CCC00E2, "Initialization failed - Invalid security certificate")
    CERTIFICATE_COMPROMISED = (0x8CCC00E3, "Initialization failed - Security certificate compromised")
    # notes: directory (LDAP) timeout
    DIRECTORY_TIMEOUT = (0x8CCC0075, "Authentication failed - Directory server did not answer")
    # notes: device restricted
    DEVICE_RESTRICTED = (0x8CCC00D2, "Device open failed - Device not in the user's control list")
    DEVICE_NOT_FOUND = (0x8CCC00D4, "Device open failed - Device not found")
    DUPLICATE_CERTIFICATE = (0x8CCC00E4, "Provider closed - another provider presented the same "
                                         "instance certificate")
    HEARTBEAT_TIMEOUT = (0x8CCC00E5, "Provider closed - heartbeat missed")
    PROTOCOL_ERROR = (0x8CCC00E6, "Provider closed - message not understood")
    PROVIDER_NOT_OPEN = (0x8CCC00E7, "Request failed - provider not open")

    @property
    def code(self) -> int:
        return self.value[0]

    @property
    def text(self) -> str:
        return self.value[1]

    @property
    def hex(self) -> str:
        return f"0x{self.code:08X}"

    @classmethod
    def of(cls, code: int) -> CtiCode | None:
        return next((c for c in cls if c.code == code), None)


class CtiRefused(Exception):
    """A login or device open refused with ``code``; ``detail`` is the plain reason logged."""

    def __init__(self, code: CtiCode, detail: str) -> None:
        super().__init__(f"{code.hex} {code.text}: {detail}")
        self.code = code
        self.detail = detail

"""What the Xsi-Events API refuses, as an exception that knows its HTTP status.

Every refusal reaches the client as an ``ErrorInfo`` document. BroadWorks' own
``errorCode`` numbers for Xsi-Events are not public, so the codes here are the
emulator's: the HTTP status times 100 plus a number, which keeps them stable and lets a
reader tell the status from the code alone.
"""
from __future__ import annotations

import enum


class ErrorCode(enum.IntEnum):
    INVALID_XML = 40001          # not well-formed, wrong root, wrong namespace
    INVALID_VALUE = 40002        # a missing or malformed element
    NO_CERTIFICATE = 40101
    CLIENT_APP_DISABLED = 40301  # CertificateAuthentication allowClientApp false
    CLIENT_NOT_ALLOWED = 40302   # certificate CN not in AS_CLI/System/ClientIdentity
    FOREIGN_CHANNEL = 40303
    FOREIGN_SUBSCRIPTION = 40304
    FOREIGN_EVENT = 40305
    TOO_MANY_CHANNELS = 40306    # the CTI interface's limit of channels per connection
    NO_SUCH_PATH = 40401
    NO_SUCH_USER = 40402
    NO_SUCH_CHANNEL = 40403
    NO_SUCH_SUBSCRIPTION = 40404
    NO_SUCH_CHANNEL_SET = 40405
    NO_SUCH_EVENT = 40406
    NO_SUCH_GROUP = 40407
    METHOD_NOT_ALLOWED = 40501
    BODY_TOO_LARGE = 41301
    UPGRADE_REQUIRED = 42601
    SHUTTING_DOWN = 50301
    # Limits (emu limit): a client's own, then the node's.
    CLIENT_CHANNEL_LIMIT = 40320
    CLIENT_CHANNEL_SET_LIMIT = 40321
    CLIENT_SUBSCRIPTION_LIMIT = 40322
    NODE_LIMIT = 50320

    @property
    def status(self) -> int:
        return self.value // 100


class XsiError(Exception):
    """A refused request: ``str()`` is the one-line summary the client sees."""

    def __init__(self, code: ErrorCode, summary: str) -> None:
        super().__init__(summary)
        self.code = code
        self.summary = summary

    @property
    def status(self) -> int:
        return self.code.status

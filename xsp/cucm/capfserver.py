"""The CAPF server side of one connection, as a sans-I/O state machine.

``start()`` gives the AUTH_REQUEST to send; ``receive(data)`` takes bytes from the client
and gives the bytes to send back. When the session ends, ``closed`` is true, ``outcome``
holds the one log line that says what happened, and ``end_reason`` the END_SESSION
reason sent. What the CAPF knows (profiles, phones, the CA) comes from a
``CapfAuthority``; the machine decides only the protocol.
"""
from __future__ import annotations

import datetime as dt
import enum
import hashlib
import hmac
from dataclasses import dataclass
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from xsp.cucm.capfwire import (AUTH_BY_STRING, CERTIFICATE_LSC, CURVE_BITS, VERSION, Command,
                               Curve, Decoder, KeyType, Message, ProtocolError, Reason, Tag,
                               certificate_value, text, u16)

# REQUEST_IN_PROGRESS messages a client may send while it makes its key (a slow phone
# sends a few); past this the session ends instead of waiting forever.
MAX_IN_PROGRESS = 16
_CURVE_OF_BITS = {bits: curve for curve, bits in CURVE_BITS.items()}


class Operation(str, enum.Enum):
    NONE = "No Pending Operation"
    INSTALL = "Install/Upgrade"
    DELETE = "Delete"
    TROUBLESHOOT = "Troubleshoot"


class KeyOrder(str, enum.Enum):
    RSA_ONLY = "RSA Only"
    EC_ONLY = "EC Only"
    EC_PREFERRED = "EC Preferred, RSA Backup"


@dataclass(frozen=True)
class Enrolment:
    """What the CAPF holds for one instance ID or device name."""
    name: str
    phone: bool
    operation: Operation
    authentication_string: str
    completes_by: dt.date | None
    key_order: KeyOrder
    rsa_key_size: int
    ec_key_size: int
    # SHA-256 of every authentication string a certificate was already issued with.
    used_strings: tuple[str, ...] = ()


def string_digest(authentication_string: str) -> str:
    return hashlib.sha256(authentication_string.encode()).hexdigest()


class CapfAuthority(Protocol):
    def mixed_mode(self) -> bool: ...

    def lookup(self, name: str) -> Enrolment | None: ...

    def today(self) -> dt.date: ...

    def issue(self, enrolment: Enrolment, public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey
              ) -> x509.Certificate: ...

    def installed(self, enrolment: Enrolment, certificate: x509.Certificate, used_string: str) -> None: ...

    def deleted(self, enrolment: Enrolment) -> None: ...


class _State(enum.Enum):
    AUTH = "waiting for AUTH_RESPONSE"
    KEY = "waiting for KEY_GENERATE_RESPONSE"
    STORE = "waiting for STORE_CERTIFICATE_RESPONSE"
    DELETE = "waiting for DELETE_CERTIFICATE_RESPONSE"
    CLOSED = "closed"


class CapfServerSession:
    def __init__(self, session_id: int, authority: CapfAuthority, peer: str = "") -> None:
        self.session_id = session_id
        self.authority = authority
        self.peer = peer
        self._decoder = Decoder()
        self._state = _State.AUTH
        self._enrolment: Enrolment | None = None
        self._password = ""
        self._certificate: x509.Certificate | None = None
        self._in_progress = 0
        self.outcome = ""
        self.end_reason: int | None = None

    @property
    def closed(self) -> bool:
        return self._state is _State.CLOSED

    def start(self) -> bytes:
        return self._message(Command.AUTH_REQUEST, (Tag.VERSION, bytes([VERSION])),
                             (Tag.AUTH_TYPE, bytes([AUTH_BY_STRING])))

    def receive(self, data: bytes) -> bytes:
        if self.closed:
            return b""
        out = b""
        try:
            messages = self._decoder.feed(data)
        except ProtocolError as exc:
            return self._end(Reason.INVALID_ELEMENT, f"not a CAPF message: {exc}")
        for message in messages:
            if self.closed:
                break
            try:
                out += self._handle(message)
            except ProtocolError as exc:
                out += self._end(Reason.INVALID_ELEMENT, f"{message.name}: {exc}")
        return out

    def connection_lost(self) -> None:
        """The client went away; a session cut short installs nothing."""
        if not self.closed:
            self.outcome = f"{self._who()}: the client closed the connection {self._state_text()}"
            self._state = _State.CLOSED

    # --- the protocol ----------------------------------------------------------------

    def _handle(self, message: Message) -> bytes:
        if message.session_id != self.session_id:
            return self._end(Reason.INVALID_ELEMENT, f"{message.name} carries session id "
                             f"{message.session_id:#x}, this session is {self.session_id:#x}")
        if message.command == Command.END_SESSION:
            self.outcome = f"{self._who()}: the client ended the session {self._state_text()}"
            self._state = _State.CLOSED
            return b""
        if message.command == Command.REQUEST_IN_PROGRESS and self._state is _State.KEY:
            self._in_progress += 1
            if self._in_progress > MAX_IN_PROGRESS:
                return self._end(Reason.INVALID_ELEMENT, f"more than {MAX_IN_PROGRESS} "
                                 "REQUEST_IN_PROGRESS while waiting for the key")
            return b""
        expected = {_State.AUTH: Command.AUTH_RESPONSE, _State.KEY: Command.KEY_GENERATE_RESPONSE,
                    _State.STORE: Command.STORE_CERTIFICATE_RESPONSE,
                    _State.DELETE: Command.DELETE_CERTIFICATE_RESPONSE}[self._state]
        if message.command != expected:
            return self._end(Reason.INVALID_ELEMENT, f"unexpected {message.name} "
                             f"{self._state_text()}")
        return {_State.AUTH: self._auth, _State.KEY: self._key, _State.STORE: self._stored,
                _State.DELETE: self._deleted}[self._state](message)

    def _auth(self, message: Message) -> bytes:
        version = message.byte(Tag.VERSION)
        name = message.text(Tag.DEVICE_NAME)
        password = message.text(Tag.PASSWORD) or ""
        if version != VERSION:
            return self._end(Reason.INVALID_ELEMENT, f"protocol version {version}; this CAPF speaks {VERSION}")
        if not name:
            return self._end(Reason.INVALID_ELEMENT, "AUTH_RESPONSE has no DEVICE_NAME")
        if not self.authority.mixed_mode():
            return self._end(Reason.INVALID_ELEMENT, f"{name}: refused: the cluster is in "
                             "non-secure mode; CAPF operations need mixed mode")
        enrolment = self.authority.lookup(name)
        if enrolment is None:
            return self._end(Reason.UNKNOWN_DEVICE, f"{name}: refused: no phone or CAPF "
                             "profile with this name")
        self._enrolment = enrolment
        if password and string_digest(password) in enrolment.used_strings:
            return self._end(Reason.INVALID_ELEMENT, f"{name}: refused: the authentication "
                             "string was already used for an issued certificate")
        if enrolment.operation not in (Operation.INSTALL, Operation.DELETE):
            return self._end(Reason.NO_ACTION, f"{name}: no pending operation")
        if enrolment.completes_by is not None and self.authority.today() > enrolment.completes_by:
            return self._end(Reason.INVALID_ELEMENT, f"{name}: refused: the operation expired "
                             f"(Operation Completes By {enrolment.completes_by.isoformat()})")
        if not enrolment.authentication_string or not hmac.compare_digest(
                password.encode(), enrolment.authentication_string.encode()):
            return self._end(Reason.INVALID_ELEMENT, f"{name}: refused: wrong authentication string")
        self._password = password
        if enrolment.operation is Operation.DELETE:
            self._state = _State.DELETE
            return self._message(Command.DELETE_CERTIFICATE_REQUEST,
                                 (Tag.CERTIFICATE_TYPE, bytes([CERTIFICATE_LSC])))
        self._state = _State.KEY
        if enrolment.key_order is KeyOrder.RSA_ONLY:
            return self._message(Command.KEY_GENERATE_REQUEST, (Tag.KEY_TYPE, bytes([KeyType.RSA])),
                                 (Tag.KEY_SIZE, u16(enrolment.rsa_key_size)))
        curve = _CURVE_OF_BITS[enrolment.ec_key_size]
        return self._message(Command.KEY_GENERATE_REQUEST, (Tag.KEY_TYPE, bytes([KeyType.EC])),
                             (Tag.CURVE, bytes([curve])))

    @property
    def _current(self) -> Enrolment:
        # Every state after AUTH has an enrolment: _auth sets it before leaving AUTH.
        assert self._enrolment is not None
        return self._enrolment

    def _key(self, message: Message) -> bytes:
        enrolment = self._current
        der = message.get(Tag.PUBLIC_KEY)
        if der is None:
            return self._end(Reason.INVALID_ELEMENT, f"{enrolment.name}: KEY_GENERATE_RESPONSE has no PUBLIC_KEY")
        try:
            key = serialization.load_der_public_key(der)
        except (ValueError, TypeError):
            return self._end(Reason.INVALID_ELEMENT, f"{enrolment.name}: PUBLIC_KEY is not a DER public key")
        problem = _key_problem(enrolment, key)
        if problem or not isinstance(key, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey)):
            return self._end(Reason.INVALID_ELEMENT, f"{enrolment.name}: refused: {problem}")
        certificate = self.authority.issue(enrolment, key)
        self._certificate = certificate
        self._state = _State.STORE
        der_cert = certificate.public_bytes(serialization.Encoding.DER)
        return self._message(Command.STORE_CERTIFICATE_REQUEST,
                             (Tag.CERTIFICATE_TYPE, bytes([CERTIFICATE_LSC])),
                             (Tag.CERTIFICATE, certificate_value(der_cert)))

    def _stored(self, message: Message) -> bytes:
        enrolment, certificate = self._current, self._certificate
        assert certificate is not None  # STORE follows the issue in _key
        if message.byte(Tag.REASON) != Reason.UPDATE_CERTIFICATE:
            return self._end(Reason.INVALID_ELEMENT, f"{enrolment.name}: the client did not "
                             f"store the certificate (reason {message.byte(Tag.REASON)})")
        self.authority.installed(enrolment, certificate, self._password)
        return self._end(Reason.UPDATE_CERTIFICATE, f"{enrolment.name}: certificate installed "
                         f"(serial {certificate.serial_number:X})")

    def _deleted(self, message: Message) -> bytes:
        enrolment = self._current
        if message.byte(Tag.REASON) != Reason.UPDATE_CERTIFICATE:
            return self._end(Reason.INVALID_ELEMENT, f"{enrolment.name}: the client did not "
                             f"delete the certificate (reason {message.byte(Tag.REASON)})")
        self.authority.deleted(enrolment)
        return self._end(Reason.UPDATE_CERTIFICATE, f"{enrolment.name}: certificate deleted")

    # --- helpers ---------------------------------------------------------------------

    def _message(self, command: Command, *elements: tuple[int, bytes]) -> bytes:
        return Message(command, self.session_id, tuple(elements)).encode()

    def _end(self, reason: Reason, outcome: str) -> bytes:
        self._state = _State.CLOSED
        self.end_reason = reason
        self.outcome = f"{self.peer}: {outcome}" if self.peer else outcome
        elements: list[tuple[int, bytes]] = [(Tag.REASON, bytes([reason]))]
        if reason == Reason.INVALID_ELEMENT:
            elements.append((Tag.REASON_INFO, text(outcome.split(": ", 1)[-1])))
        return self._message(Command.END_SESSION, *elements)

    def _who(self) -> str:
        name = self._enrolment.name if self._enrolment else "unauthenticated client"
        return f"{self.peer}: {name}" if self.peer else name

    def _state_text(self) -> str:
        return self._state.value if self._state is not _State.CLOSED else "after the end"


def _key_problem(enrolment: Enrolment, key: object) -> str | None:
    wants_ec = enrolment.key_order in (KeyOrder.EC_ONLY, KeyOrder.EC_PREFERRED)
    wants_rsa = enrolment.key_order in (KeyOrder.RSA_ONLY, KeyOrder.EC_PREFERRED)
    if isinstance(key, ec.EllipticCurvePublicKey) and wants_ec:
        if key.curve.key_size != enrolment.ec_key_size:
            return f"an EC key on {key.curve.name}; the profile asks for EC {enrolment.ec_key_size}"
        return None
    if isinstance(key, rsa.RSAPublicKey) and wants_rsa:
        if key.key_size != enrolment.rsa_key_size:
            return f"an RSA {key.key_size} key; the profile asks for RSA {enrolment.rsa_key_size}"
        return None
    kind = "RSA" if isinstance(key, rsa.RSAPublicKey) else "EC" if isinstance(
        key, ec.EllipticCurvePublicKey) else type(key).__name__
    return f"an {kind} key; the profile's key order is {enrolment.key_order.value}"

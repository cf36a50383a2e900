"""The CAPF client side (a phone, or a JTAPI/TSP application instance) as a sans-I/O machine.

It answers the server's AUTH_REQUEST with its device name or instance ID and the
authentication string, makes its own key pair of the kind the server asks for (only the
public key leaves it), stores the certificate it is sent and reports the END_SESSION
reason. ``receive(data)`` gives the bytes to send back; ``done`` is true after
END_SESSION.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from xsp.cucm.capfwire import (CERTIFICATE_LSC, VERSION, Command, Curve, Decoder, KeyType, Message,
                               ProtocolError, Reason, Tag, certificate_from_value, text)

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
_CURVES: dict[int, ec.EllipticCurve] = {Curve.P256: ec.SECP256R1(), Curve.P384: ec.SECP384R1(),
                                        Curve.P521: ec.SECP521R1()}


@dataclass
class CapfClientSession:
    name: str
    authentication_string: str
    # Sent before the key, as a slow phone does while it generates one.
    in_progress_messages: int = 0
    # Answer KEY_GENERATE_REQUEST with this key instead of one of the requested kind
    # (to rehearse the server refusing a wrong key).
    key_override: PrivateKey | None = None
    private_key: PrivateKey | None = field(default=None, repr=False)
    certificate: x509.Certificate | None = None
    deleted: bool = False
    end_reason: int | None = None
    reason_info: str = ""
    session_id: int | None = None
    _decoder: Decoder = field(default_factory=Decoder, repr=False)

    @property
    def done(self) -> bool:
        return self.end_reason is not None

    def receive(self, data: bytes) -> bytes:
        out = b""
        for message in self._decoder.feed(data):
            if self.done:
                break
            out += self._handle(message)
        return out

    def _handle(self, message: Message) -> bytes:
        if self.session_id is None:
            self.session_id = message.session_id
        if message.command == Command.END_SESSION:
            self.end_reason = message.byte(Tag.REASON)
            self.reason_info = message.text(Tag.REASON_INFO) or ""
            return b""
        if message.command == Command.AUTH_REQUEST:
            return self._send(Command.AUTH_RESPONSE, (Tag.REASON, bytes([Reason.NO_ACTION])),
                              (Tag.VERSION, bytes([VERSION])), (Tag.DEVICE_NAME, text(self.name)),
                              (Tag.PASSWORD, text(self.authentication_string)))
        if message.command == Command.KEY_GENERATE_REQUEST:
            self.private_key = self.key_override or _make_key(message)
            public = self.private_key.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
            waiting = b"".join(self._send(Command.REQUEST_IN_PROGRESS)
                               for _ in range(self.in_progress_messages))
            return waiting + self._send(Command.KEY_GENERATE_RESPONSE, (Tag.PUBLIC_KEY, public))
        if message.command == Command.STORE_CERTIFICATE_REQUEST:
            value = message.get(Tag.CERTIFICATE)
            if value is None:
                raise ProtocolError("STORE_CERTIFICATE_REQUEST has no CERTIFICATE")
            certificate_type, der = certificate_from_value(value)
            if certificate_type != CERTIFICATE_LSC:
                raise ProtocolError(f"certificate type {certificate_type}, expected an LSC")
            self.certificate = x509.load_der_x509_certificate(der)
            return self._send(Command.STORE_CERTIFICATE_RESPONSE,
                              (Tag.REASON, bytes([Reason.UPDATE_CERTIFICATE])))
        if message.command == Command.DELETE_CERTIFICATE_REQUEST:
            self.certificate, self.private_key, self.deleted = None, None, True
            return self._send(Command.DELETE_CERTIFICATE_RESPONSE,
                              (Tag.REASON, bytes([Reason.UPDATE_CERTIFICATE])))
        raise ProtocolError(f"unexpected {message.name} from the server")

    def _send(self, command: Command, *elements: tuple[int, bytes]) -> bytes:
        return Message(command, self.session_id or 0, tuple(elements)).encode()


def _make_key(message: Message) -> PrivateKey:
    key_type = message.byte(Tag.KEY_TYPE)
    if key_type == KeyType.EC:
        curve = message.byte(Tag.CURVE)
        if curve is None or curve not in _CURVES:
            raise ProtocolError(f"unknown CURVE {curve}")
        return ec.generate_private_key(_CURVES[curve])
    if key_type == KeyType.RSA:
        size = message.get(Tag.KEY_SIZE)
        if size is None or len(size) != 2:
            raise ProtocolError("KEY_GENERATE_REQUEST for RSA without a 2-byte KEY_SIZE")
        return rsa.generate_private_key(public_exponent=65537, key_size=int.from_bytes(size, "big"))
    raise ProtocolError(f"unknown KEY_TYPE {key_type}")

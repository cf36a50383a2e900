"""The CAPF v3 protocol without sockets: framing byte for byte, and every edge of the server
machine (session ids, unexpected commands, bad elements, slow clients, Delete)."""
from __future__ import annotations

import datetime as dt
import struct

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import xsp_trust as trust
from xsp.cucm.capfclient import CapfClientSession
from xsp.cucm.capfserver import MAX_IN_PROGRESS, CapfServerSession, Enrolment, KeyOrder, Operation
from xsp.cucm.capfwire import (Command, Decoder, Message, ProtocolError, Reason, Tag,
                               certificate_from_value, certificate_value, text)

SESSION = 0x0A0B0C0D


class Authority:
    """The CAPF's knowledge, in memory: one instance, and what the machine asked of it."""

    def __init__(self, operation: Operation = Operation.INSTALL, key_order: KeyOrder = KeyOrder.RSA_ONLY):
        self.ca = trust.CertificateAuthority.new_root("CAPF-test")
        self.enrolment = Enrolment("jtapi1", False, operation, "1234", dt.date.today(), key_order, 2048, 256)
        self.installed_with: list[tuple[x509.Certificate, str]] = []
        self.deleted_names: list[str] = []

    def mixed_mode(self) -> bool:
        return True

    def today(self) -> dt.date:
        return dt.date.today()

    def lookup(self, name: str):
        return self.enrolment if name == self.enrolment.name else None

    def issue(self, enrolment, public_key):
        return trust.issue_lsc(self.ca.certificate, self.ca.private_key, enrolment.name, public_key,
                               phone=enrolment.phone)

    def installed(self, enrolment, certificate, used_string):
        self.installed_with.append((certificate, used_string))

    def deleted(self, enrolment):
        self.deleted_names.append(enrolment.name)


def run(server: CapfServerSession, client: CapfClientSession, *, byte_by_byte: bool = False) -> None:
    to_client = server.start()
    while to_client and not client.done:
        to_server = client.receive(to_client)
        if byte_by_byte:
            to_client = b"".join(server.receive(to_server[i:i + 1]) for i in range(len(to_server)))
        else:
            to_client = server.receive(to_server)


def decode_one(data: bytes) -> Message:
    (message,) = Decoder().feed(data)
    return message


def test_header_and_elements_byte_for_byte():
    message = Message(Command.AUTH_RESPONSE, SESSION, ((Tag.VERSION, b"\x03"), (Tag.DEVICE_NAME, text("SEP1"))))
    assert message.encode() == (bytes([85, 2]) + struct.pack(">I", SESSION) + struct.pack(">H", 4 + 8)
                                + bytes([7, 0, 1, 3]) + bytes([13, 0, 5]) + b"SEP1\0")
    assert decode_one(message.encode()) == message


def test_certificate_element_has_its_five_byte_prefix():
    der = trust.self_signed_server("x.example.com").certificate.public_bytes(serialization.Encoding.DER)
    value = certificate_value(der)
    assert value[:5] == bytes([1]) + struct.pack(">H", len(der) + 2) + bytes([0, 1])
    assert certificate_from_value(value) == (1, der)
    with pytest.raises(ProtocolError, match="CERTIFICATE has a malformed 5-byte prefix"):
        certificate_from_value(bytes([2]) + value[1:])


def test_decoder_waits_for_whole_messages_and_refuses_other_protocols():
    data = Message(Command.END_SESSION, SESSION, ((Tag.REASON, b"\x00"),)).encode() * 2
    decoder = Decoder()
    assert decoder.feed(data[:5]) == []
    assert decoder.feed(data[5:14]) == [Message(Command.END_SESSION, SESSION, ((Tag.REASON, b"\x00"),))]
    assert decoder.pending == 2
    assert len(decoder.feed(data[14:])) == 1
    with pytest.raises(ProtocolError, match="protocol id 86, expected 85"):
        Decoder().feed(bytes([86]) + data[1:12])
    with pytest.raises(ProtocolError, match="DEVICE_NAME needs 9 bytes, 2 remain"):
        Decoder().feed(bytes([85, 2, 0, 0, 0, 1, 0, 5, 13, 0, 9, 65, 0]))


def test_install_end_to_end_byte_by_byte_with_requests_in_progress():
    authority = Authority()
    server = CapfServerSession(SESSION, authority)
    client = CapfClientSession("jtapi1", "1234", in_progress_messages=3)
    run(server, client, byte_by_byte=True)
    assert (client.end_reason, server.end_reason) == (Reason.UPDATE_CERTIFICATE, Reason.UPDATE_CERTIFICATE)
    assert client.session_id == SESSION
    ((certificate, used),) = authority.installed_with
    assert certificate == client.certificate and used == "1234"
    assert server.outcome == f"jtapi1: certificate installed (serial {certificate.serial_number:X})"


def test_first_message_is_auth_request_version_3():
    message = decode_one(CapfServerSession(SESSION, Authority()).start())
    assert (message.command, message.session_id) == (Command.AUTH_REQUEST, SESSION)
    assert message.byte(Tag.VERSION) == 3


def test_key_generate_request_follows_the_key_order():
    for order, expected in ((KeyOrder.RSA_ONLY, ((Tag.KEY_TYPE, b"\x00"), (Tag.KEY_SIZE, b"\x08\x00"))),
                            (KeyOrder.EC_ONLY, ((Tag.KEY_TYPE, b"\x01"), (Tag.CURVE, b"\x00"))),
                            (KeyOrder.EC_PREFERRED, ((Tag.KEY_TYPE, b"\x01"), (Tag.CURVE, b"\x00")))):
        server = CapfServerSession(SESSION, Authority(key_order=order))
        server.start()
        reply = server.receive(Message(Command.AUTH_RESPONSE, SESSION, (
            (Tag.REASON, b"\x00"), (Tag.VERSION, b"\x03"), (Tag.DEVICE_NAME, text("jtapi1")),
            (Tag.PASSWORD, text("1234")))).encode())
        message = decode_one(reply)
        assert message.command == Command.KEY_GENERATE_REQUEST
        assert message.elements == expected


def test_ec_preferred_takes_the_rsa_backup_key():
    authority = Authority(key_order=KeyOrder.EC_PREFERRED)
    client = CapfClientSession("jtapi1", "1234", key_override=rsa.generate_private_key(65537, 2048))
    run(CapfServerSession(SESSION, authority), client)
    assert client.end_reason == Reason.UPDATE_CERTIFICATE


def test_a_wrong_rsa_size_is_refused():
    client = CapfClientSession("jtapi1", "1234", key_override=rsa.generate_private_key(65537, 1024))
    server = CapfServerSession(SESSION, Authority())
    run(server, client)
    assert client.reason_info == "refused: an RSA 1024 key; the profile asks for RSA 2048"


def test_delete_operation_removes_the_certificate():
    authority = Authority(operation=Operation.DELETE)
    client = CapfClientSession("jtapi1", "1234")
    run(CapfServerSession(SESSION, authority), client)
    assert client.deleted and client.end_reason == Reason.UPDATE_CERTIFICATE
    assert authority.deleted_names == ["jtapi1"]


def started() -> CapfServerSession:
    server = CapfServerSession(SESSION, Authority())
    server.start()
    return server


def end_of(reply: bytes) -> tuple[int, str]:
    message = decode_one(reply)
    assert message.command == Command.END_SESSION
    return message.byte(Tag.REASON), message.text(Tag.REASON_INFO) or ""


def auth(session: int = SESSION, version: bytes = b"\x03", **extra: bytes) -> bytes:
    elements = [(Tag.REASON, b"\x00"), (Tag.VERSION, version), (Tag.DEVICE_NAME, text("jtapi1")),
                (Tag.PASSWORD, text("1234"))]
    return Message(Command.AUTH_RESPONSE, session, tuple(elements)).encode()


@pytest.mark.parametrize("data, info", [
    (auth(session=SESSION + 1), "AUTH_RESPONSE carries session id 0xa0b0c0e, this session is 0xa0b0c0d"),
    (auth(version=b"\x02"), "protocol version 2; this CAPF speaks 3"),
    (auth(version=b"\x03\x00"), "AUTH_RESPONSE: VERSION is 2 bytes, expected 1"),
    (Message(Command.KEY_GENERATE_RESPONSE, SESSION).encode(), "unexpected KEY_GENERATE_RESPONSE waiting for AUTH_RESPONSE"),
    (Message(Command.AUTH_RESPONSE, SESSION, ((Tag.VERSION, b"\x03"),)).encode(), "AUTH_RESPONSE has no DEVICE_NAME"),
    (Message(Command.AUTH_RESPONSE, SESSION, ((Tag.VERSION, b"\x03"), (Tag.DEVICE_NAME, b"jtapi1"))).encode(),
     "AUTH_RESPONSE: DEVICE_NAME is not NUL-terminated"),
    (bytes([84]) + auth()[1:], "not a CAPF message: protocol id 84, expected 85"),
])
def test_the_server_ends_bad_sessions_with_reason_7_and_says_why(data, info):
    server = started()
    reason, text_info = end_of(server.receive(data))
    assert reason == Reason.INVALID_ELEMENT
    assert server.closed
    assert info in server.outcome
    assert server.receive(auth()) == b""  # nothing more once closed


def test_a_client_stalling_with_request_in_progress_is_ended():
    server = started()
    server.receive(auth())
    waiting = Message(Command.REQUEST_IN_PROGRESS, SESSION).encode()
    assert server.receive(waiting * MAX_IN_PROGRESS) == b""
    reason, info = end_of(server.receive(waiting))
    assert info == f"more than {MAX_IN_PROGRESS} REQUEST_IN_PROGRESS while waiting for the key"


def test_a_public_key_that_is_not_der_is_refused():
    server = started()
    server.receive(auth())
    reason, info = end_of(server.receive(Message(Command.KEY_GENERATE_RESPONSE, SESSION,
                                                 ((Tag.PUBLIC_KEY, b"\x30\x03junk"),)).encode()))
    assert (reason, info) == (Reason.INVALID_ELEMENT, "PUBLIC_KEY is not a DER public key")


def test_a_client_that_does_not_store_the_certificate_installs_nothing():
    authority = Authority()
    server = CapfServerSession(SESSION, authority)
    server.start()
    server.receive(auth())
    key = rsa.generate_private_key(65537, 2048).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    store_request = decode_one(server.receive(Message(Command.KEY_GENERATE_RESPONSE, SESSION,
                                                      ((Tag.PUBLIC_KEY, key),)).encode()))
    assert store_request.command == Command.STORE_CERTIFICATE_REQUEST
    assert store_request.byte(Tag.CERTIFICATE_TYPE) == 1
    reason, info = end_of(server.receive(Message(Command.STORE_CERTIFICATE_RESPONSE, SESSION,
                                                 ((Tag.REASON, b"\x07"),)).encode()))
    assert info == "the client did not store the certificate (reason 7)"
    assert authority.installed_with == []


def test_a_client_leaving_mid_session_installs_nothing():
    authority = Authority()
    server = CapfServerSession(SESSION, authority)
    server.start()
    server.receive(auth())
    server.connection_lost()
    assert server.outcome == "jtapi1: the client closed the connection waiting for KEY_GENERATE_RESPONSE"
    assert authority.installed_with == []


def test_the_client_refuses_an_unknown_curve():
    client = CapfClientSession("jtapi1", "1234")
    client.receive(Message(Command.AUTH_REQUEST, SESSION, ((Tag.VERSION, b"\x03"),)).encode())
    with pytest.raises(ProtocolError, match="unknown CURVE 9"):
        client.receive(Message(Command.KEY_GENERATE_REQUEST, SESSION,
                               ((Tag.KEY_TYPE, b"\x01"), (Tag.CURVE, b"\x09"))).encode())

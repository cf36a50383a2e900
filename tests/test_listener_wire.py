"""The TLS wire reading behind refusal reports: alerts in records, ClientHello offers,
Certificate messages; garbage gives 'nothing known', never an exception."""
from __future__ import annotations

import random
import ssl

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from _listener_support import TLS12, TLS13, client_context, pki, server_context
from xsp.listener import tlswatch, tlswire


def _client_hello(context: ssl.SSLContext) -> bytes:
    """The ClientHello handshake message a real Python client sends (record header off)."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = context.wrap_bio(incoming, outgoing, server_hostname="xsp.example.com")
    with pytest.raises(ssl.SSLWantReadError):
        client.do_handshake()
    record = outgoing.read()
    assert record[0] == tlswire.CONTENT_HANDSHAKE
    return record[5:]


def test_a_plaintext_alert_record_is_read_and_named():
    records = bytes.fromhex("15 0303 0002 02 28")
    scan = tlswire.scan_records(records)
    assert (scan.plaintext_alert, scan.encrypted_records) == (40, False)
    assert tlswire.alert_name(scan.plaintext_alert) == "handshake_failure"


def test_an_encrypted_record_is_recognised_as_such():
    scan = tlswire.scan_records(bytes.fromhex("17 0303 0013") + bytes(19))
    assert (scan.plaintext_alert, scan.encrypted_records) == (None, True)


@pytest.mark.parametrize("code, name", [(116, "certificate_required"), (48, "unknown_ca"),
                                        (45, "certificate_expired"), (70, "protocol_version"),
                                        (51, "decrypt_error"), (200, "alert 200")])
def test_alert_descriptions_have_their_rfc_8446_names(code, name):
    assert tlswire.alert_name(code) == name


def test_a_modern_client_hello_lists_versions_suites_and_server_name():
    hello = tlswire.parse_client_hello(_client_hello(client_context(versions=(TLS12, TLS13))))
    assert hello is not None
    assert hello.supported_versions == (0x0304, 0x0303)
    assert hello.offered_versions == "TLSv1.3, TLSv1.2"
    assert 0x1301 in hello.cipher_suites and hello.server_name == "xsp.example.com"


def test_a_tls12_only_client_hello_offers_only_tls12():
    hello = tlswire.parse_client_hello(_client_hello(client_context(versions=(TLS12, TLS12))))
    assert hello is not None and hello.offered_versions in ("TLSv1.2", "TLSv1.2 at most")


def test_grease_values_are_not_reported_as_offers():
    message = bytearray(_client_hello(client_context(versions=(TLS13, TLS13))))
    # Put GREASE 0x0A0A in place of the first cipher suite (after header, version,
    # random and the session id vector).
    suites_at = 4 + 2 + 32 + 1 + message[4 + 2 + 32] + 2
    message[suites_at:suites_at + 2] = b"\x0a\x0a"
    hello = tlswire.parse_client_hello(bytes(message))
    assert hello is not None and 0x0A0A not in hello.cipher_suites


def test_certificate_messages_of_both_versions_yield_the_der_chain():
    leaf, issuing = pki().good.certificate, pki().issuing.certificate
    ders = [c.public_bytes(Encoding.DER) for c in (leaf, issuing)]

    def u24(n: int) -> bytes:
        return n.to_bytes(3, "big")
    tls12_list = b"".join(u24(len(d)) + d for d in ders)
    tls12 = b"\x0b" + u24(3 + len(tls12_list)) + u24(len(tls12_list)) + tls12_list
    tls13_list = b"".join(u24(len(d)) + d + b"\x00\x00" for d in ders)
    tls13 = b"\x0b" + u24(1 + 3 + len(tls13_list)) + b"\x00" + u24(len(tls13_list)) + tls13_list
    assert tlswire.parse_certificate_message(tls12, tls13=False) == ders
    assert tlswire.parse_certificate_message(tls13, tls13=True) == ders
    empty13 = b"\x0b" + u24(4) + b"\x00" + u24(0)
    assert tlswire.parse_certificate_message(empty13, tls13=True) == []


def test_garbage_is_understood_as_nothing():
    rng = random.Random(8012)
    for _ in range(200):
        junk = rng.randbytes(rng.randrange(0, 80))
        tlswire.scan_records(junk)
        assert tlswire.parse_certificate_message(b"\x0b" + junk, tls13=True) is not None
        hello = tlswire.parse_client_hello(b"\x01" + junk)
        assert hello is None or isinstance(hello, tlswire.ClientHello)


@pytest.mark.parametrize("first, http", [(b"GET / HTTP/1.1\r\n", True), (b"OPTIONS * HT", True),
                                         (b"\x16\x03\x01\x02\x00", False), (b"get / ", False),
                                         (b"\x00\x01\x02 ", False)])
def test_plain_http_is_told_from_other_first_bytes(first, http):
    assert tlswire.looks_like_http(first) is http
    assert tlswire.looks_like_tls(first) is (first[0] == 0x16)



def _handshake(server: ssl.SSLObject, client: ssl.SSLObject, s_in: ssl.MemoryBIO,
               s_out: ssl.MemoryBIO, c_in: ssl.MemoryBIO, c_out: ssl.MemoryBIO) -> None:
    for _ in range(6):
        for side in (client, server):
            try:
                side.do_handshake()
            except ssl.SSLWantReadError:
                pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())


def test_the_watch_sees_the_client_s_certificate_and_a_debug_callback_still_runs():
    context = server_context(versions=(TLS13, TLS13))
    seen: list[tuple[object, object]] = []
    context._msg_callback = lambda conn, d, v, ct, mt, data: seen.append((ct, mt))
    assert tlswatch.install(context) and tlswatch.install(context)  # idempotent
    assert callable(context._msg_callback)  # ssl's own getter still works
    s_in, s_out, c_in, c_out = (ssl.MemoryBIO() for _ in range(4))
    server = context.wrap_bio(s_in, s_out, server_side=True)
    client = client_context(pki().good).wrap_bio(c_in, c_out, server_hostname="127.0.0.1")
    watch = tlswatch.attach(server)
    _handshake(server, client, s_in, s_out, c_in, c_out)
    assert server.version() == "TLSv1.3"
    assert watch.client_hello is not None and watch.client_hello.supported_versions
    assert watch.client_chain == [pki().good.certificate.public_bytes(Encoding.DER),
                                  pki().issuing.certificate.public_bytes(Encoding.DER)]
    # The debugging callback got what ssl's wrapper gives it: enums, not bare ints.
    assert any(type(ct) is ssl._TLSContentType and type(mt) is ssl._TLSMessageType
               and mt == ssl._TLSMessageType.CERTIFICATE for ct, mt in seen)

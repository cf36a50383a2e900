"""The emulator's CTIManager framing, sans-I/O: every edge of the decoder, and what the
listener does with bytes that are not a message."""
from __future__ import annotations

import json
import logging
import socket
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.test_cucm_cti import node, store  # noqa: F401 - fixtures
from tests._cucm_support import HOST
from xsp.cucm.ctiwire import MAX_BODY, PDUS, Decoder, FramingError, Message


def test_a_message_round_trips_even_split_byte_by_byte():
    message = Message("ProviderOpenRequest", {"seq": 1, "login": "wwhite", "heartbeat": 60})
    data = message.encode() * 2
    decoder = Decoder()
    out = []
    for i in range(len(data)):
        out += decoder.feed(data[i:i + 1])
    assert out == [message, message]


@pytest.mark.parametrize("frame, error", [
    (struct.pack(">HH", 999, 0), "unknown PDU 999"),
    (struct.pack(">HH", 1, MAX_BODY + 1), f"ProviderOpenRequest: body length {MAX_BODY + 1} is over {MAX_BODY}"),
    (struct.pack(">HH", 1, 3) + b"\xff\xfe{", "ProviderOpenRequest: the body is not UTF-8 JSON"),
    (struct.pack(">HH", 7, 2) + b"[]", "HeartbeatRequest: the body is not a JSON object"),
])
def test_frames_that_are_not_messages_are_refused_in_one_line(frame, error):
    with pytest.raises(FramingError) as refused:
        Decoder().feed(frame)
    assert str(refused.value) == error


def test_the_password_never_reaches_a_trace_line():
    shown = Message("ProviderOpenRequest", {"login": "a", "password": "secret"}).describe()
    assert shown == "ProviderOpenRequest (login=a)"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64))
def test_any_bytes_give_messages_or_one_framing_error(data):
    try:
        for message in Decoder().feed(data):
            assert message.name in PDUS
    except FramingError as exc:
        assert "\n" not in str(exc)


def send_raw(port: int, data: bytes) -> list[Message]:
    with socket.create_connection((HOST, port), timeout=10) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return Decoder().feed(received)


def test_garbage_on_2748_gets_a_provider_closed_event_and_one_log_line(node, caplog):
    caplog.set_level(logging.INFO, logger="xsp.cucm")
    messages = send_raw(node.cti.port, b"GET / HTTP/1.1\r\n\r\n")
    assert [m.name for m in messages] == ["ProviderClosedEvent"]
    assert messages[0].get("reason") == 0x8CCC00E6
    assert messages[0].get("description") == "Provider closed - message not understood"
    lines = [r.getMessage() for r in caplog.records if r.name == "xsp.cucm"]
    assert len(lines) == 1 and lines[0].endswith("(login -): 0x8CCC00E6 unknown PDU 18245")


@pytest.mark.parametrize("fields, problem", [
    ({"seq": "1", "login": "a", "password": "b"}, "ProviderOpenRequest: seq is not a number"),
    ({"seq": 1, "login": ["a"], "password": "b"}, "ProviderOpenRequest: login is not text"),
    ({"seq": 1, "login": "a" * 300, "password": "b"}, "ProviderOpenRequest: login is over 256 characters"),
    ({"seq": 1, "login": "a", "password": "b", "heartbeat": 0}, "heartbeat 0 is not 1 to 300 seconds"),
])
def test_a_provider_open_with_unusable_fields_is_closed_with_the_reason(node, caplog, fields, problem):
    caplog.set_level(logging.INFO, logger="xsp.cucm")
    frame = struct.pack(">HH", 1, len(json.dumps(fields))) + json.dumps(fields).encode()
    messages = send_raw(node.cti.port, frame)
    assert messages[-1].name == "ProviderClosedEvent" and messages[-1].get("reason") == 0x8CCC00E6
    assert any(r.getMessage().endswith(f"0x8CCC00E6 {problem}") for r in caplog.records)
    assert not any("CtiLoginCheckReq" in line for line in node.manager.trace.lines())  # never reached login

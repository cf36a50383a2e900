"""Events on the CTI interface: the ``event`` envelope is written directly, byte for
byte what ``render`` gives; a channel hands its transport every document queued when it
wakes, in order, ending where the channel ends; a plain ``eventResponse`` is read
without the parser, to the same message and the same outcome."""
from __future__ import annotations

import asyncio
from xml.sax.saxutils import escape

from hypothesis import given, settings
from hypothesis import strategies as st

from xsp.cti import documents as docs
from xsp.cti.channels import Channel
from xsp.cti.errors import XsiError
from xsp.ctiproto import messages as m
from xsp.ctiproto.codec import DocumentReader

TEXT = st.text(alphabet=st.sampled_from(list("aZ09 <>&\"'é\u2028:-@.\n\t")), max_size=12)
PAYLOAD = st.one_of(
    st.just(""),
    TEXT.map(lambda t: f"<xsi:Event>{t.replace('<', '').replace('&', '')}</xsi:Event>"),
    TEXT.map(lambda t: f'<?xml version="1.0" encoding="UTF-8"?>\n<e a="{t[:3]}"/>'),
    TEXT.map(lambda t: f"  \n<e>{t[:0]}</e>"),
    TEXT)


@settings(max_examples=400, deadline=None)
@given(request_id=TEXT, payload=PAYLOAD, version=st.one_of(st.just(m.VERSION), TEXT))
def test_the_direct_event_writer_gives_render_s_bytes(request_id, payload, version):
    assert m.render_event(request_id, payload, version) == m.render(
        m.Event(request_id, payload, version))


def _channel() -> Channel:
    return Channel("c1", "client", ("client", "set"), priority=1, weight=100,
                   expires_at=1e12, transport="cti")


def test_a_channel_hands_out_what_is_queued_in_batches_in_order_and_ends_after_them():
    async def scenario() -> list[list[str]]:
        channel = _channel()
        for n in range(5):
            channel.send(f"d{n}")
        channel.end()
        return [batch async for batch in channel.batches(most=3)]

    batches = asyncio.run(scenario())
    assert batches == [["d0", "d1", "d2"], ["d3", "d4"]]


def test_a_batch_counts_its_documents_out_of_the_outbox_and_a_later_one_waits_for_them():
    async def scenario() -> tuple[list[str], int, list[str]]:
        channel = _channel()
        channel.send("first")
        channel.send("second")
        batches = channel.batches()
        taken = await batches.__anext__()
        left = channel.queued
        later = asyncio.ensure_future(batches.__anext__())
        await asyncio.sleep(0)
        assert not later.done()  # nothing queued: the transport waits
        channel.send("third")
        return taken, left, await later

    taken, left, later = asyncio.run(scenario())
    assert (taken, left, later) == (["first", "second"], 0, ["third"])


# --- acknowledgements in -------------------------------------------------------------

ID = st.text(alphabet=st.sampled_from(list("aZ09._:@-<&é ")), min_size=0, max_size=10)
REASON = st.text(alphabet=st.sampled_from(list("aZ09 ._,-<&é")), max_size=10)


def _ack(request_id: str, event_id: str, status: str, reason: str, version: str) -> bytes:
    document = (f'<EventResponse xmlns="{m.XSI_NS}"><eventID>{escape(event_id)}</eventID>'
                f"<statusCode>{escape(status)}</statusCode><reason>{escape(reason)}</reason>"
                "</EventResponse>")
    return m.render(m.EventResponse(request_id, document, version))


def _as_parsed(raw: bytes) -> tuple[str, str, object]:
    """What the connection acts on when the document goes through the parser."""
    [document] = DocumentReader().documents(raw)
    message = m.parse(document.root)
    assert isinstance(message, m.EventResponse) and message.element is not None
    return message.request_id, message.protocol_version, _outcome(
        lambda: docs.event_response(message.element))


def _outcome(read):
    try:
        return read()
    except XsiError as exc:
        return exc.summary


@settings(max_examples=400, deadline=None)
@given(request_id=ID, event_id=ID, status=st.sampled_from(["200", "481", "999", "2x"]),
       reason=REASON, version=st.sampled_from([m.VERSION, "1", "22.0.1"]),
       tail=st.sampled_from([b"", b"\n", b"<xsp:keep"]))
def test_a_plain_acknowledgement_reads_as_through_the_parser(request_id, event_id, status,
                                                              reason, version, tail):
    raw = _ack(request_id, event_id, status, reason, version)
    acks, rest = m.plain_event_responses(raw + tail, 64 * 1024)
    if not acks:
        assert rest == raw + tail  # not plain: the reader gets every byte
        return
    [ack] = acks
    assert rest == b"\n" + tail  # the newline after the document: whitespace the reader skips
    assert ack.element is None
    expected = _as_parsed(raw) if request_id.strip() else None
    assert (ack.request_id, ack.protocol_version,
            _outcome(lambda: docs.parse_event_response(ack.document))) == expected


def test_plain_acknowledgements_back_to_back_are_all_read_and_the_next_document_is_left():
    first = _ack("r1", "ev1", "200", "OK", m.VERSION)
    second = _ack("r2", "ev2", "200", "OK", m.VERSION)
    keepalive = m.render(m.Keepalive("k1"))
    acks, rest = m.plain_event_responses(first + second + keepalive, 64 * 1024)
    assert [a.request_id for a in acks] == ["r1", "r2"]
    assert rest == b"\n" + keepalive


def test_a_plain_acknowledgement_larger_than_a_document_may_be_is_left_to_the_reader():
    raw = _ack("r1", "ev1", "200", "OK", m.VERSION)
    size = len(raw.rstrip(b"\n"))
    assert m.plain_event_responses(raw, size - 1) == ([], raw)
    assert len(m.plain_event_responses(raw, size)[0]) == 1

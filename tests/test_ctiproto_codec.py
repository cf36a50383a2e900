"""The CTI interface stream cut into documents, and the messages read from them."""
from __future__ import annotations

import pytest

from xsp.ctiproto.codec import DocumentReader, FramingError
from xsp.ctiproto.messages import (CTI_NS, XSP_NS, Event, Keepalive, KeepaliveResponse,
                                   MessageError, Request, Response, parse, render)

XSI = "http://schema.broadsoft.com/xsi"
ADD_CHANNEL = (
    f'<?xml version="1.0" encoding="UTF-8"?>\n<xsp:request version="18.0" xmlns:xsp="{XSP_NS}">'
    "<requestId>1</requestId><sessionId>s-1</sessionId><credentials>d2ViZXg6</credentials>"
    f'<cti:AddChannelRequest xmlns:cti="{CTI_NS}"><uri>/com.broadsoft.xsi-events/v2.0/channel</uri>'
    "<method>POST</method><version>2.0</version><params/>"
    f'<payload><Channel xmlns="{XSI}"><channelSetId>set-1</channelSetId></Channel></payload>'
    "</cti:AddChannelRequest></xsp:request>")


def _names(elements) -> list[str]:
    return [e.tag for e in elements]


def test_back_to_back_documents_in_one_segment_with_declarations_and_whitespace_between():
    reader = DocumentReader()
    data = (ADD_CHANNEL + "\r\n  \n" + f'<xsp:keepalive xmlns:xsp="{XSP_NS}"><requestId>2'
            f"</requestId><period>30</period></xsp:keepalive>" + '<?xml version="1.0"?>'
            + f'<xsp:keepalive xmlns:xsp="{XSP_NS}"><requestId>3</requestId></xsp:keepalive>')
    found = reader.feed(data.encode())
    assert _names(found) == [f"{{{XSP_NS}}}request", f"{{{XSP_NS}}}keepalive",
                             f"{{{XSP_NS}}}keepalive"]
    assert not reader.in_document


def test_one_document_split_over_many_segments_completes_on_its_last_byte():
    reader = DocumentReader()
    data = ADD_CHANNEL.encode()
    for index in range(len(data) - 1):
        assert reader.feed(data[index:index + 1]) == []
    (root,) = reader.feed(data[-1:])
    assert parse(root).operation == "AddChannelRequest"


def test_an_empty_root_and_quoted_angle_brackets_do_not_confuse_the_document_end():
    reader = DocumentReader()
    found = reader.feed(b'<a x="/>" y=\'>\'/><b>t</b><c')
    assert _names(found) == ["a", "b"]
    assert _names(reader.feed(b"/>")) == ["c"]


@pytest.mark.parametrize("data, words", [
    (b"<a><b></a>", "not well-formed XML: mismatched tag (line 1, column 8)"),
    (b"hello", "the stream does not continue with an XML document: b'hello'"),
    (b'<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>', "DOCTYPE and entity declarations are not accepted"),
    (b"<a>&x;</a>", "not well-formed XML: undefined entity (line 1, column 3)"),
])
def test_a_malformed_stream_is_one_line_and_the_reader_stays_broken(data, words):
    reader = DocumentReader()
    with pytest.raises(FramingError) as caught:
        reader.feed(data)
    assert str(caught.value) == words
    with pytest.raises(FramingError):
        reader.feed(b"<ok/>")


def test_documents_before_a_fault_are_returned_and_the_fault_comes_next():
    reader = DocumentReader()
    assert _names(reader.feed(b"<a/><b/>junk")) == ["a", "b"]
    assert str(reader.error) == "the stream does not continue with an XML document: b'junk'"
    with pytest.raises(FramingError):
        reader.feed(b"")


def test_a_document_over_the_limit_is_refused_before_it_is_all_buffered():
    reader = DocumentReader(max_document=1024)
    with pytest.raises(FramingError, match="a document is larger than 1024 bytes"):
        reader.feed(b"<a>" + b"x" * 5000)
    reader = DocumentReader(max_document=1024)
    assert _names(reader.feed(b"<a>" + b"x" * 1000 + b"</a>")) == ["a"]


def test_the_stream_ending_inside_a_document_is_reported():
    reader = DocumentReader()
    reader.feed(b"<a><b>")
    with pytest.raises(FramingError, match=r"ended inside a document \(6 bytes"):
        reader.feed_eof()


def test_a_request_is_read_as_the_schema_writes_it():
    (root,) = DocumentReader().feed(ADD_CHANNEL.encode())
    request = parse(root)
    assert isinstance(request, Request)
    assert (request.request_id, request.session_id, request.operation, request.uri,
            request.method, request.version, request.credential, request.protocol_version) == (
        "1", "s-1", "AddChannelRequest", "/com.broadsoft.xsi-events/v2.0/channel", "POST",
        "2.0", "credentials", "18.0")
    assert "channelSetId" in request.body and XSI in request.body


def test_an_xsp_payload_wrapper_and_a_missing_version_are_accepted():
    wrapped = ADD_CHANNEL.replace(' version="18.0"', "").replace(
        "<cti:AddChannelRequest", "<xsp:payload><cti:AddChannelRequest").replace(
        "</cti:AddChannelRequest>", "</cti:AddChannelRequest></xsp:payload>")
    request = parse(DocumentReader().feed(wrapped.encode())[0])
    assert isinstance(request, Request) and request.operation == "AddChannelRequest"
    assert request.protocol_version == "17.0"


@pytest.mark.parametrize("document, status, words, echoed", [
    (f'<xsp:request xmlns:xsp="{XSP_NS}"><sessionId>s</sessionId></xsp:request>', 400,
     "request: requestId is required", ("", "s")),
    (f'<xsp:request xmlns:xsp="{XSP_NS}"><requestId>7</requestId><sessionId>s</sessionId>'
     "<credentials>x</credentials></xsp:request>", 400,
     "request: no operation (a CTI element such as AddChannelRequest) after the credentials",
     ("7", "s")),
    (f'<xsp:hello xmlns:xsp="{XSP_NS}"><requestId>8</requestId></xsp:hello>', 400,
     "hello is not a CTI interface message", ("8", "")),
    ('<request xmlns="urn:other"><requestId>9</requestId></request>', 400,
     f"request must be in the namespace {XSP_NS}, got urn:other", ("9", "")),
    (f'<xsp:keepalive xmlns:xsp="{XSP_NS}"><requestId>5</requestId><period>soon</period>'
     "</xsp:keepalive>", 400, "keepalive: period must be a whole number of seconds", ("5", "")),
])
def test_what_is_not_a_message_says_why_and_keeps_the_ids_to_echo(document, status, words,
                                                                    echoed):
    with pytest.raises(MessageError) as caught:
        parse(DocumentReader().feed(document.encode())[0])
    assert caught.value.status == status and words in caught.value.summary
    assert (caught.value.request_id, caught.value.session_id) == echoed


def test_every_message_written_reads_back_the_same():
    channel = f'<Channel xmlns="{XSI}"><channelId>c1</channelId><expires>3600</expires></Channel>'
    messages = [
        Request("1", "s", "DeleteChannelRequest", "/com.broadsoft.xsi-events/v2.0/channel/{channelId}",
                "DELETE", "2.0", {"channelId": "c1"}),
        Response("1", "s", 200, "OK", channel),
        Response("2", "s", 404, "Not Found"),
        Keepalive("3", 30), KeepaliveResponse("3"),
    ]
    for message in messages:
        data = render(message)
        assert data.count(b"\n") == 1 and data.endswith(b"\n")  # one line per message
        again = parse(DocumentReader().feed(data)[0])
        assert type(again) is type(message)
        if isinstance(message, Response):
            assert (again.status_code, again.reason) == (message.status_code, message.reason)
            assert again.document == message.payload
        else:
            assert again == message


def test_an_event_payload_is_the_xsi_event_element():
    event = (f'<xsi:Event xmlns:xsi="{XSI}"><xsi:eventID>e1</xsi:eventID></xsi:Event>')
    message = parse(DocumentReader().feed(render(Event("4", event)))[0])
    assert isinstance(message, Event) and message.element is not None
    assert message.element.tag == f"{{{XSI}}}Event"


def test_a_payload_reads_as_the_sender_wrote_it_and_the_same_from_the_element_alone():
    from xsp.cti import documents as docs
    event = docs.channel_terminated_document("c1", "Expired")
    data = render(Event("5", event))
    (document,) = DocumentReader().documents(data)
    assert document.raw == data.rstrip(b"\n")
    as_written = parse(document.root, document.raw)
    from_element = parse(document.root)
    assert as_written.document == from_element.document == event.partition("?>")[2]

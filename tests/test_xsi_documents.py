"""Xsi documents: exactly the envelope and namespaces clients parse, requests refused
with a reason, and a stream cut back into its documents however it was chunked."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xsp.cti import documents as docs
from xsp.cti.channels import Subscription
from xsp.cti.documents import Envelope, EventData, leaf
from xsp.cti.errors import ErrorCode, XsiError
from xsp.webex.framing import DocumentSplitter, FramingError
from xsp.webex.received import ChannelReply, ErrorReply, Heartbeat, XsiEvent, read_document

NS = docs.NS
XSI1 = docs.XSI_INSTANCE


def _envelope(**changes: object) -> Envelope:
    fields: dict[str, object] = dict(
        event_id="e-1", sequence_number=7, subscription_id="s-1", channel_id="c-1",
        target_id="alice@example.com", external_application_id="app",
        client_id="bwcticlient.webex.com", user_id=None)
    fields.update(changes)
    return Envelope(**fields)  # type: ignore[arg-type]


def test_event_document_is_the_xsi_subscription_event_envelope_on_one_line():
    text = docs.event_document(_envelope(), EventData("CallSubscriptionEvent",
                                                      (leaf("hookStatus", "On-Hook"),)))
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?><xsi:Event '
                           f'xmlns:xsi="{NS}" xmlns:xsi1="{XSI1}" xsi1:type="xsi:SubscriptionEvent">')
    assert "\n" not in text
    root = ET.fromstring(text)
    assert [child.tag.split("}")[1] for child in root] == [
        "eventID", "sequenceNumber", "clientId", "externalApplicationId", "subscriptionId",
        "channelId", "targetId", "eventData"]
    data = root.find(f"{{{NS}}}eventData")
    assert data is not None and data.get(f"{{{XSI1}}}type") == "xsi:CallSubscriptionEvent"
    assert data.findtext(f"{{{NS}}}hookStatus") == "On-Hook"
    assert root.findtext(f"{{{NS}}}clientId") == "bwcticlient.webex.com"


def test_an_anonymous_client_s_events_carry_user_id_instead_of_client_id():
    text = docs.event_document(_envelope(client_id=None, user_id="alice@example.com"),
                               EventData("HookStatusEvent", (leaf("hookStatus", "Off-Hook"),)))
    root = ET.fromstring(text)
    assert root.findtext(f"{{{NS}}}userId") == "alice@example.com"
    assert root.find(f"{{{NS}}}clientId") is None


def test_text_is_escaped_in_documents():
    text = docs.error_info_document("bad <thing> & more", ErrorCode.INVALID_XML)
    reply = read_document(text)
    assert reply == ErrorReply("bad <thing> & more", 40001)


def test_channel_reply_heartbeat_and_termination_read_back():
    assert read_document(docs.channel_document("c-9", 600)) == ChannelReply("c-9", 600)
    assert docs.HEARTBEAT == f'<ChannelHeartBeat xmlns="{NS}"/>'
    assert read_document(docs.HEARTBEAT) == Heartbeat()
    ended = read_document(docs.channel_terminated_document("c-9", "Expired"))
    assert isinstance(ended, XsiEvent) and ended.terminates_channel
    assert (ended.channel_id, ended.fields["reason"], ended.event_id) == ("c-9", "Expired", None)


def test_a_channel_request_reads_its_fields_and_defaults():
    request = docs.parse_channel_request(
        f'<?xml version="1.0"?><Channel xmlns="{NS}"><channelSetId> set-1 </channelSetId>'
        "<priority>2</priority><expires>120</expires></Channel>")
    assert (request.channel_set_id, request.priority, request.weight, request.expires) == (
        "set-1", 2, 50, 120)


@pytest.mark.parametrize("body, words", [
    ("", "Empty request body"),
    ("<Channel", "not well-formed"),
    ("<Channel><channelSetId>x</channelSetId></Channel>", "must be in the namespace"),
    (f'<Subscription xmlns="{NS}"/>', "Expected a Channel document, got Subscription"),
    (f'<Channel xmlns="{NS}"><expires>1</expires></Channel>', "channelSetId is required"),
    (f'<Channel xmlns="{NS}"><channelSetId>x</channelSetId><expires>soon</expires></Channel>',
     "expires must be an integer of at least 1, got 'soon'"),
    (f'<Channel xmlns="{NS}"><channelSetId>x</channelSetId><expires>0</expires></Channel>',
     "expires must be an integer of at least 1"),
    (f'<!DOCTYPE a [<!ENTITY e "x">]><Channel xmlns="{NS}"><channelSetId>&e;</channelSetId>'
     "</Channel>", "DOCTYPE and entity declarations are not accepted"),
])
def test_bad_channel_requests_are_refused_with_the_reason(body, words):
    with pytest.raises(XsiError) as refused:
        docs.parse_channel_request(body)
    assert words in refused.value.summary
    assert refused.value.status == 400


def test_subscription_and_event_response_requests_read_back():
    subscription = docs.parse_subscription_request(
        f'<Subscription xmlns="{NS}"><event>Advanced Call</event><expires>60</expires>'
        "<channelSetId>s</channelSetId><applicationId>webex</applicationId></Subscription>")
    assert (subscription.event, subscription.expires, subscription.application_id) == (
        "Advanced Call", 60, "webex")
    response = docs.parse_event_response(
        f'<EventResponse xmlns="{NS}"><eventID>e-1</eventID><statusCode>200</statusCode>'
        "<reason>OK</reason></EventResponse>")
    assert (response.event_id, response.status_code) == ("e-1", 200)


def test_a_refresh_with_an_empty_body_asks_for_the_default_expires():
    assert docs.parse_expires(b"", "Channel") is None
    assert docs.parse_expires(f'<Channel xmlns="{NS}"><expires>30</expires></Channel>',
                              "Channel") == 30


def _stream() -> list[str]:
    event = docs.event_document(_envelope(), EventData("HookStatusEvent",
                                                       (leaf("hookStatus", "Off-Hook"),)))
    return [docs.channel_document("c-1", 3600), docs.HEARTBEAT, event,
            docs.channel_terminated_document("c-1", "ExplicitDelete")]


@given(st.lists(st.integers(min_value=1, max_value=2000), max_size=40))
def test_the_splitter_finds_the_same_documents_however_the_stream_is_cut(cuts):
    data = "".join(_stream()).encode()
    positions = sorted({min(c, len(data)) for c in cuts})
    splitter = DocumentSplitter()
    found: list[str] = []
    start = 0
    for position in [*positions, len(data)]:
        found += splitter.feed(data[start:position])
        start = position
    assert found == [d.replace(docs.DECLARATION, "").lstrip() for d in _stream()]


def test_the_splitter_refuses_a_stream_that_is_not_xml():
    with pytest.raises(FramingError):
        DocumentSplitter().feed(b"HTTP/1.1 200 OK\r\n")


def test_an_error_info_summary_is_never_empty_and_a_reason_off_the_list_is_never_sent():
    assert read_document(docs.error_info_document(" ", ErrorCode.INVALID_XML)) == ErrorReply(
        "Error", 40001)
    with pytest.raises(ValueError):
        docs.channel_terminated_document("c-1", "Server shutting down")
    with pytest.raises(ValueError):
        docs.event_document(_envelope(external_application_id=""), EventData("HookStatusEvent"))


def test_a_sequence_number_wraps_to_1_after_the_largest_xs_int():
    subscription = Subscription("s", "o", True, ("o", "set"), None, None, "app", 0.0,  # type: ignore[arg-type]
                                _sequence=2**31 - 2)
    assert [subscription.next_sequence_number() for _ in range(3)] == [2**31 - 1, 1, 2]

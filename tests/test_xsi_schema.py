"""Every document the node sends validates against the Xsi schema (as restated in
``xsp.cti.schemacheck``): captured from real flows over real mTLS sockets, HTTP streaming
and WebSocket; and the check itself refuses what the schema refuses, each with its reason."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest
from websockets.asyncio.client import connect as ws_connect

from tests._xsi_support import (HOST, NS, FakeClock, client_context, make_hub,
                                next_events, pki, raw, run, serve, webex)
from xsp.cti import schemacheck
from xsp.cti.calls import CallSimulator
from xsp.webex.received import XsiEvent
from xsp.webex.client import ASYNC_ROOT, ROOT, WebexClient

XSI1 = "http://www.w3.org/2001/XMLSchema-instance"
DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'


def _event(data: str, envelope: str | None = None) -> str:
    envelope = envelope if envelope is not None else (
        "<xsi:eventID>e</xsi:eventID><xsi:sequenceNumber>1</xsi:sequenceNumber>"
        "<xsi:clientId>bwcticlient.webex.com</xsi:clientId>"
        "<xsi:externalApplicationId>app</xsi:externalApplicationId>"
        "<xsi:subscriptionId>s</xsi:subscriptionId><xsi:channelId>c</xsi:channelId>"
        "<xsi:targetId>alice@example.com</xsi:targetId>")
    return (f'<xsi:Event xmlns:xsi="{NS}" xmlns:xsi1="{XSI1}" xsi1:type="xsi:SubscriptionEvent">'
            f"{envelope}{data}</xsi:Event>")


HOOK = '<xsi:eventData xsi1:type="xsi:HookStatusEvent"><xsi:hookStatus>On-Hook</xsi:hookStatus></xsi:eventData>'


@pytest.mark.parametrize("document, problem", [
    # what the emulator sent before it followed the schema
    (_event('<xsi:eventData xsi1:type="xsi:CallSubscriptionEvent"><xsi:hookStatus>On-Hook'
            "</xsi:hookStatus><xsi:calls/></xsi:eventData>"),
     "/Event/eventData: CallSubscriptionEvent content ['hookStatus', 'calls'] does not match "
     "the schema's sequence [calls?, conference?, hookStatus]"),
    (_event('<xsi:eventData xsi1:type="xsi:DoNotDisturbEvent"><xsi:active>true</xsi:active>'
            "<xsi:ringSplash>false</xsi:ringSplash></xsi:eventData>"),
     "/Event/eventData: DoNotDisturbEvent content ['active', 'ringSplash'] does not match "
     "the schema's sequence [unassigned?, info?]"),
    (f'<ChannelSet xmlns="{NS}"><channelSetId>s</channelSetId><channelList/></ChannelSet>',
     "/ChannelSet: ChannelSet content ['channelSetId', 'channelList'] does not match the "
     "schema's sequence [channel*]"),
    (f'<xsi:Event xmlns:xsi="{NS}" xmlns:xsi1="{XSI1}" xsi1:type="xsi:ChannelTerminatedEvent">'
     "<xsi:channelId>c</xsi:channelId><xsi:reason>Channel expired</xsi:reason></xsi:Event>",
     "/Event/reason: ChannelTerminatedReason: 'Channel expired' is not one of "
     "DuplicateChannelSet, UserDeleted, NonResponsiveChannel, ExplicitDelete, Expired, "
     "UnknownChannel"),
    (_event(HOOK, "<xsi:eventID>e</xsi:eventID><xsi:sequenceNumber>1</xsi:sequenceNumber>"
                  "<xsi:clientId>x</xsi:clientId><xsi:externalApplicationId/>"
                  "<xsi:subscriptionId>s</xsi:subscriptionId>"),
     "/Event/externalApplicationId: ExternalApplicationId: must not be empty"),
    (_event('<xsi:eventData xsi1:type="xsi:CallHistoryEvent"/>'),
     "/Event/eventData: xsi:type CallHistoryEvent is not a type derived from EventData"),
    # the rules of XML Schema the check applies
    (_event("<xsi:eventData><xsi:hookStatus>On-Hook</xsi:hookStatus></xsi:eventData>"),
     "/Event/eventData: EventData is abstract: xsi:type must name the concrete type"),
    (_event(HOOK.replace("On-Hook", "Up")),
     "/Event/eventData/hookStatus: HookStatusType: 'Up' is not one of Off-Hook, On-Hook"),
    (_event(HOOK, "<xsi:eventID>e</xsi:eventID><xsi:sequenceNumber>0</xsi:sequenceNumber>"
                  "<xsi:userId>u@x</xsi:userId><xsi:externalApplicationId>a"
                  "</xsi:externalApplicationId><xsi:subscriptionId>s</xsi:subscriptionId>"),
     "/Event/sequenceNumber: PositiveInt: 0 is outside 1..2147483647"),
    (_event(HOOK, "<xsi:eventID>e</xsi:eventID><xsi:sequenceNumber>1</xsi:sequenceNumber>"
                  "<xsi:externalApplicationId>a</xsi:externalApplicationId>"
                  "<xsi:subscriptionId>s</xsi:subscriptionId>"),
     "/Event: SubscriptionEvent content ['eventID', 'sequenceNumber', 'externalApplicationId', "
     "'subscriptionId', 'eventData'] does not match the schema's sequence [eventID, "
     "sequenceNumber, ([userId] | [clientId]), externalApplicationId, subscriptionId, "
     "sharedSubscriptionId?, ([channelId?] | [httpContact]), targetId?, targetSubId?, "
     "eventData]"),
    (f'<Channel xmlns="{NS}"><channelId>{"c" * 257}</channelId></Channel>',
     "/Channel/channelId: Id256: is longer than 256 characters"),
    (f'<Channel xmlns="{NS}">text<expires>3600</expires></Channel>',
     "/Channel: Channel has element content only; text is not allowed"),
    (f'<Channel xmlns="{NS}" id="1"><expires>3600</expires></Channel>',
     "/Channel: attribute id is not allowed"),
    (f'<Channel xmlns="{NS}"><expires xmlns="urn:x">3600</expires></Channel>',
     "/Channel/expires: must be in the namespace http://schema.broadsoft.com/xsi"),
    (f'<ErrorInfo xmlns="{NS}"><summaryEnglish>x</summaryEnglish><errorCode>99999999999'
     "</errorCode></ErrorInfo>",
     "/ErrorInfo/errorCode: int: 99999999999 is outside -2147483648..2147483647"),
    ('<Channel xmlns="urn:x"/>',
     "/Channel: not a global element of the Xsi schema (urn:x)"),
    (f'<xsi:Event xmlns:xsi="{NS}" xmlns:other="urn:x" xmlns:xsi1="{XSI1}" '
     'xsi1:type="other:ChannelTerminatedEvent"/>',
     "/Event: xsi:type other:ChannelTerminatedEvent (its prefix is not bound to "
     "http://schema.broadsoft.com/xsi) is not a type derived from BaseEvent"),
])
def test_the_check_refuses_what_the_schema_refuses_with_the_reason(document, problem):
    assert schemacheck.problems(document) == [problem]


def test_the_check_accepts_what_the_schema_allows_that_the_emulator_does_not_send():
    valid = [
        f'<Subscription xmlns="{NS}"><event>Voice Messaging</event><expires>3600</expires>'
        "<channelSetId>s</channelSetId><applicationId>a</applicationId></Subscription>",
        f'<EventResponse xmlns="{NS}"><eventID>e</eventID><statusCode>481</statusCode>'
        "<reason>Unknown</reason></EventResponse>",
        _event('<xsi:eventData xsi1:type="xsi:CallSubscriptionResyncEvent"><xsi:hookStatus>'
               "Off-Hook</xsi:hookStatus></xsi:eventData>"),
        _event('<xsi:eventData xsi1:type="xsi:DoNotDisturbEvent"><xsi:unassigned/>'
               "</xsi:eventData>"),
        f'<x:ChannelHeartBeat xmlns:x="{NS}"><anything/></x:ChannelHeartBeat>',
    ]
    assert [schemacheck.problems(d) for d in valid] == [[]] * len(valid)


# --- every document the node sends, captured over real sockets ----------------------

class RecordingClient(WebexClient):
    """The Webex-like client, keeping every document it reads from the server."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.documents: list[str] = []

    async def _first_document(self, response, splitter):  # type: ignore[no-untyped-def]
        first, rest = await super()._first_document(response, splitter)
        self.documents.append(first)
        return first, rest

    def _dispatch(self, channel, document):  # type: ignore[no-untyped-def]
        self.documents.append(document)
        super()._dispatch(channel, document)

    async def request(self, method: str, path: str, body: str | None = None, *,
                      what: str) -> str:
        text = await super().request(method, path, body, what=what)
        if text:
            self.documents.append(text)
        return text


def recording(port: int, **options: Any) -> RecordingClient:
    options.setdefault("request_timeout", 5.0)
    options.setdefault("transport", "http")  # serve() is the Xsi interface
    return RecordingClient(HOST, port, ssl_context=client_context(pki().webex), **options)


async def _until(condition, timeout: float = 5.0) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.01)
    await asyncio.wait_for(poll(), timeout)


async def _drain(client: WebexClient, timeout: float = 0.3) -> list[XsiEvent]:
    """Whatever events arrive until none has for ``timeout`` seconds, or the client has
    no channel left."""
    found: list[XsiEvent] = []
    try:
        while batch := await next_events(client, 1, timeout):
            found += batch
    except asyncio.TimeoutError:
        pass
    return found


async def _capture_http(port: int, hub, clock: FakeClock) -> list[str]:
    documents: list[str] = []
    sim = CallSimulator(hub)
    async with recording(port, application_id="capture") as client:
        await client.heartbeat()
        await client.refresh_channel(client.channel_ids[0], 4000)
        alice = await client.subscribe("alice@example.com")
        await client.subscribe("bob@example.com", event="Standard Call")
        await client.subscribe("carol@example.com", event="Basic Call")
        await client.subscribe("bob@example.com", event="Do Not Disturb")
        await client.subscribe_group("Acme", "Sales", event="Advanced Call")
        await client.subscribe_group("Acme", event="Basic Call")
        for timing in ({}, {"answer_after": None}, {"hold_after": 0.01, "retrieve_after": 0.01},
                       {"transfer_to": "carol@example.com", "transfer_after": 0.01},
                       {"released_by": "callee"}):
            await sim.run_call("alice@example.com", "bob@example.com",
                               **{"answer_after": 0.01, "release_after": 0.01, **timing})
        await sim.run_call("tel:+15551234567", "alice@example.com", answer_after=0.01,
                           release_after=0.01)
        await sim.set_dnd("bob@example.com", True)
        call = sim.call("alice@example.com", "carol@example.com", answer_after=0.01,
                        release_after=1.0)
        await _until(lambda: len(hub.user_state("alice@example.com").calls) == 1)
        await client.refresh_subscription(alice)  # its resync lists the call in progress
        await call
        await client.audit()
        await client.subscribe("alice@example.com")  # replaces: SubscriptionTerminatedEvent
        await _drain(client)
        # subscriptions not refreshed in time: SubscriptionTerminatedEvent
        clock.advance(client.expires + 1)
        hub.sweep()
        await _drain(client)
        # an event whose channel the client says it does not know: UnknownChannel
        client.auto_ack = False
        await client.subscribe("alice@example.com")
        (event,) = await next_events(client, 1)
        await client.acknowledge(event, 404, "Unknown channel")
        await _drain(client)
        documents += client.documents
    async with recording(port, application_id="capture", channel_set_id="first") as first:
        # a second channel set for the same application: DuplicateChannelSet
        async with recording(port, application_id="capture", channel_set_id="second") as second:
            await _drain(first)
            await second.delete_channel(second.channel_ids[0])  # ExplicitDelete
            await _drain(second)
            documents += first.documents + second.documents
    async with recording(port, application_id="expiring") as expiring:
        clock.advance(4000)  # the channel was granted the minimum: Expired
        hub.sweep()
        await _drain(expiring)
        documents += expiring.documents
    return documents


async def _capture_refusals(port: int) -> list[str]:
    documents: list[str] = []
    for method, path, body in [
            ("POST", f"{ROOT}/user/alice@example.com", "<Subscription"),
            ("POST", f"{ROOT}/user/zed@example.com", f'<Subscription xmlns="{NS}"><event>'
             "Advanced Call</event><channelSetId>x</channelSetId></Subscription>"),
            ("GET", f"{ROOT}/channelset/nothing-open", None),
            ("DELETE", f"{ROOT}/channelset/x", None),
            ("PUT", f"{ROOT}/channel/nope/heartbeat", None)]:
        status, text, _ = await raw(port, method, path, body)
        assert status >= 400
        documents.append(text)
    status, text, _ = await raw(port, "GET", f"{ROOT}/channelset/x", cert=pki().intruder)
    assert status == 403  # not a ClientIdentity
    documents.append(text)
    return documents


async def _capture_websocket(port: int) -> list[str]:
    documents: list[str] = []
    async with ws_connect(f"wss://{HOST}:{port}{ASYNC_ROOT}/channel",
                          ssl=client_context(pki().webex)) as ws:
        await ws.send(f'<Channel xmlns="{NS}"><channelSetId>ws</channelSetId>'
                      "<applicationId>ws-app</applicationId></Channel>")
        documents.append(await ws.recv())
        for message in (f'<ChannelHeartBeat xmlns="{NS}"/>',
                        f'<Channel xmlns="{NS}"><expires>7200</expires></Channel>',
                        "<EventResponse/>", f'<Subscription xmlns="{NS}"/>'):
            await ws.send(message)
            documents.append(await ws.recv())
    async with ws_connect(f"wss://{HOST}:{port}{ASYNC_ROOT}/channel",
                          ssl=client_context(pki().webex)) as ws:
        await ws.send(f'<Channel xmlns="{NS}"/>')  # refused: ErrorInfo, then closed
        documents.append(await ws.recv())
    return documents


def test_every_document_the_node_sends_validates_against_the_xsi_schema():
    async def scenario():
        clock = FakeClock()
        hub = make_hub(clock=clock)
        async with serve(hub) as port:
            documents = await _capture_http(port, hub, clock)
            documents += await _capture_refusals(port)
            documents += await _capture_websocket(port)
            async with webex(port, transport="ws", application_id="closing") as closing:
                closing_docs: list[str] = []
                await hub.close()  # shutdown: ExplicitDelete on every channel
                closing_docs += [e.xml for e in await _drain(closing)]
            documents += closing_docs
        invalid = {d: schemacheck.problems(d) for d in documents if schemacheck.problems(d)}
        assert invalid == {}
        kinds = {schemacheck.kind(d) for d in documents}
        event = "Event:SubscriptionEvent/"
        assert kinds >= {
            "Channel", "ChannelHeartBeat", "ChannelSet", "Subscription", "ErrorInfo",
            "Event:ChannelTerminatedEvent", "Event:ErrorEvent",
            *(event + name for name in (
                "CallSubscriptionEvent", "HookStatusEvent", "CallOriginatedEvent",
                "CallReceivedEvent", "CallUpdatedEvent", "CallAnsweredEvent", "CallHeldEvent",
                "CallRetrievedEvent", "CallTransferredEvent", "CallReleasedEvent",
                "DoNotDisturbEvent", "SubscriptionTerminatedEvent"))}, kinds
        reasons = {d.split("<xsi:reason>")[1].split("<")[0] for d in documents
                   if "ChannelTerminatedEvent" in d}
        assert reasons == {"ExplicitDelete", "Expired", "DuplicateChannelSet", "UnknownChannel"}
        assert any("<xsi:calls><xsi:call>" in d for d in documents)  # a resync with a call
    run(scenario(), timeout=60)

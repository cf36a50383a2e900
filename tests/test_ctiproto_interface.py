"""The CTI interface on a real mTLS socket, driven by a client written from the protocol
note alone: hand-written XML on an asyncio TLS stream, no code of the emulator."""
from __future__ import annotations

import asyncio
import logging
import re
import ssl
import xml.etree.ElementTree as ET

import pytest

from tests._xsi_support import (HOST, WEBEX_CN, Policy, client_context, make_hub, pki, run,
                                serve_cti)
from xsp.cti.calls import CallSimulator

XSP = "http://schema.broadsoft.com/XspXMLInterface"
CTI = "http://schema.broadsoft.com/CTI"
XSI = "http://schema.broadsoft.com/xsi"
CTX = "/com.broadsoft.xsi-events/v2.0"
_END = re.compile(rb"</xsp:(response|event|keepaliveResponse)>|<xsp:(response|event)[^>]*/>")


def request(request_id: str, operation: str, uri: str, method: str, body: str = "",
            params: str = "") -> str:
    """A request as the note writes it: envelope, ids, credential, the CTI operation."""
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<xsp:request version="18.0" xmlns:xsp="{XSP}">'
            f"<requestId>{request_id}</requestId><sessionId>webex-1</sessionId>"
            "<credentials>Ymd3Y3RpY2xpZW50Og==</credentials>"
            f'<cti:{operation} xmlns:cti="{CTI}"><uri>{uri}</uri><method>{method}</method>'
            f"<version>2.0</version><params>{params}</params><payload>{body}</payload>"
            f"</cti:{operation}></xsp:request>\n")


def channel_body(set_id: str = "webex-set") -> str:
    return (f'<Channel xmlns="{XSI}"><channelSetId>{set_id}</channelSetId><priority>1</priority>'
            "<weight>50</weight><expires>3600</expires><applicationId>webex</applicationId>"
            "</Channel>")


def subscription_body(set_id: str = "webex-set") -> str:
    return (f'<Subscription xmlns="{XSI}"><event>Advanced Call</event><expires>3600</expires>'
            f"<channelSetId>{set_id}</channelSetId><applicationId>webex</applicationId>"
            "</Subscription>")


def event_response(request_id: str, event_id: str) -> str:
    return (f'<xsp:eventResponse xmlns:xsp="{XSP}"><requestId>{request_id}</requestId>'
            f'<xsp:payload><EventResponse xmlns="{XSI}"><eventID>{event_id}</eventID>'
            "<statusCode>200</statusCode><reason>OK</reason></EventResponse></xsp:payload>"
            "</xsp:eventResponse>")


def keepalive(request_id: str, period: int) -> str:
    return (f'<xsp:keepalive xmlns:xsp="{XSP}"><requestId>{request_id}</requestId>'
            f"<period>{period}</period></xsp:keepalive>")


def text(element: ET.Element, path: str) -> str | None:
    found = element.find(path)
    return None if found is None else (found.text or "")


class Wire:
    """A CTI client as the note describes one: one TLS connection, XML both ways."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.buffer = b""

    @classmethod
    async def connect(cls, port: int, context: ssl.SSLContext | None = None) -> Wire:
        reader, writer = await asyncio.open_connection(
            HOST, port, ssl=context or client_context(pki().webex))
        return cls(reader, writer)

    async def send(self, *documents: str) -> None:
        self.writer.write("".join(documents).encode())
        await self.writer.drain()

    async def receive(self, timeout: float = 5.0) -> ET.Element:
        while True:
            match = _END.search(self.buffer)
            if match:
                document, self.buffer = self.buffer[:match.end()], self.buffer[match.end():]
                return ET.fromstring(document.strip())
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
            if not data:
                raise ConnectionError("the server closed the connection")
            self.buffer += data

    async def response(self, request_id: str) -> ET.Element:
        message = await self.receive()
        assert message.tag == f"{{{XSP}}}response", ET.tostring(message)
        assert text(message, "requestId") == request_id
        return message

    async def events(self, count: int) -> list[ET.Element]:
        got = []
        for _ in range(count):
            message = await self.receive()
            assert message.tag == f"{{{XSP}}}event", ET.tostring(message)
            got.append(message)
        return got

    async def closed(self, timeout: float = 5.0) -> bool:
        try:
            while await asyncio.wait_for(self.reader.read(65536), timeout):
                pass
        except (ConnectionError, ssl.SSLError):
            pass
        return True

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, ssl.SSLError):
            pass


def xsi(event: ET.Element) -> ET.Element:
    payload = event.find(f"{{{XSP}}}payload")
    assert payload is not None and len(payload) == 1
    return payload[0]


def event_type(event: ET.Element) -> str:
    document = xsi(event)
    data = document.find(f"{{{XSI}}}eventData")
    kind = (data if data is not None else document).get(
        "{http://www.w3.org/2001/XMLSchema-instance}type", "")
    return kind.rpartition(":")[2]


def status(response: ET.Element) -> tuple[int, str]:
    return int(text(response, "statusCode") or 0), text(response, "reason") or ""


async def open_channel(wire: Wire, request_id: str = "1", set_id: str = "webex-set") -> str:
    await wire.send(request("1" if request_id == "1" else request_id, "AddChannelRequest",
                            f"{CTX}/channel", "POST", channel_body(set_id)))
    answer = await wire.response(request_id)
    assert status(answer) == (200, "OK"), ET.tostring(answer)
    channel_id = text(answer, f"{{{XSP}}}payload/{{{XSI}}}Channel/{{{XSI}}}channelId")
    assert channel_id
    return channel_id


async def subscribe(wire: Wire, request_id: str, user: str = "alice@example.com",
                    set_id: str = "webex-set") -> str:
    await wire.send(request(request_id, "AddUserSubscriptionRequest", f"{CTX}/user/{{userId}}",
                            "POST", subscription_body(set_id), f"<userId>{user}</userId>"))
    answer = await wire.response(request_id)
    assert status(answer) == (200, "OK"), ET.tostring(answer)
    subscription_id = text(answer, f"{{{XSP}}}payload/{{{XSI}}}Subscription/{{{XSI}}}subscriptionId")
    assert subscription_id
    return subscription_id


def test_a_client_from_the_note_opens_subscribes_gets_a_whole_call_acks_keeps_alive_and_closes():
    async def scenario():
        hub = make_hub()
        async with serve_cti(hub) as listener:
            wire = await Wire.connect(listener.bound[1])
            channel_id = await open_channel(wire)
            subscription_id = await subscribe(wire, "2")
            (first,) = await wire.events(1)
            assert event_type(first) == "CallSubscriptionEvent"
            assert text(xsi(first), f"{{{XSI}}}subscriptionId") == subscription_id
            assert text(xsi(first), f"{{{XSI}}}channelId") == channel_id
            assert text(xsi(first), f"{{{XSI}}}clientId") == WEBEX_CN
            await wire.send(event_response(text(first, "requestId") or "",
                                           text(xsi(first), f"{{{XSI}}}eventID") or ""))

            await wire.send(keepalive("3", 30))
            answer = await wire.receive()
            assert answer.tag == f"{{{XSP}}}keepaliveResponse" and text(answer, "requestId") == "3"

            await CallSimulator(hub).run_call("alice@example.com", "bob@example.com",
                                              answer_after=0, release_after=0)
            seen = []
            for event in await wire.events(6):
                seen.append(event_type(event))
                await wire.send(event_response(text(event, "requestId") or "",
                                               text(xsi(event), f"{{{XSI}}}eventID") or ""))
            assert seen == ["HookStatusEvent", "CallOriginatedEvent", "CallUpdatedEvent",
                            "CallAnsweredEvent", "CallReleasedEvent", "HookStatusEvent"]
            for _ in range(50):
                if hub.unacknowledged == 0:
                    break
                await asyncio.sleep(0.02)
            assert hub.unacknowledged == 0

            await wire.send(request("4", "DeleteSubscriptionRequest",
                                    f"{CTX}/subscription/{{subscriptionId}}", "DELETE",
                                    params=f"<subscriptionId>{subscription_id}</subscriptionId>"))
            assert status(await wire.response("4")) == (200, "OK")
            await wire.send(request("5", "DeleteChannelRequest", f"{CTX}/channel/{{channelId}}",
                                    "DELETE", params=f"<channelId>{channel_id}</channelId>"))
            assert status(await wire.response("5")) == (200, "OK")
            await wire.close()
            for _ in range(50):
                if hub.channel_count == 0 and not listener.connections:
                    break
                await asyncio.sleep(0.02)
            assert (hub.channel_count, hub.subscription_count, len(listener.connections)) == (0, 0, 0)
    run(scenario())

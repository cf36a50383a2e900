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
from xsp.cti.hub import INTERFACE_STOPPED, SHUTTING_DOWN
from xsp.webex.client import WebexClient, WebexClientError

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
        self.stashed: list[ET.Element] = []  # events that came while awaiting a response

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
        while message.tag == f"{{{XSP}}}event":
            self.stashed.append(message)
            message = await self.receive()
        assert message.tag == f"{{{XSP}}}response", ET.tostring(message)
        assert text(message, "requestId") == request_id
        return message

    async def events(self, count: int) -> list[ET.Element]:
        got = self.stashed[:count]
        del self.stashed[:count]
        while len(got) < count:
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


def error_summary(response: ET.Element) -> str:
    return text(response, f"{{{XSP}}}payload/{{{XSI}}}ErrorInfo/{{{XSI}}}summary") or ""


def test_back_to_back_requests_in_one_segment_and_one_request_split_over_many():
    async def scenario():
        async with serve_cti(make_hub()) as listener:
            wire = await Wire.connect(listener.bound[1])
            # three documents in one write: a declaration and line breaks between them
            await wire.send(request("1", "AddChannelRequest", f"{CTX}/channel", "POST",
                                    channel_body()) + "\r\n\r\n",
                            keepalive("2", 60), "\n" + request("3", "GetChannelSetRequest",
                            f"{CTX}/channelset/{{channelSetId}}", "GET",
                            params="<channelSetId>webex-set</channelSetId>"))
            assert status(await wire.response("1")) == (200, "OK")
            assert text(await wire.receive(), "requestId") == "2"
            audit = await wire.response("3")
            assert status(audit) == (200, "OK")
            assert len(audit.findall(f".//{{{XSI}}}channel")) == 1
            # one document, a few bytes per TCP segment
            data = request("4", "AddUserSubscriptionRequest", f"{CTX}/user/alice@example.com",
                           "POST", subscription_body())
            for start in range(0, len(data), 7):
                await wire.send(data[start:start + 7])
                await asyncio.sleep(0)
            assert status(await wire.response("4")) == (200, "OK")
            await wire.close()
    run(scenario())


@pytest.mark.parametrize("document, expected", [
    (request("7", "FrobnicateRequest", f"{CTX}/channel", "POST"),
     (400, "Unknown operation FrobnicateRequest; known: AddChannelRequest")),
    (request("7", "AddChannelRequest", f"{CTX}/channel", "POST", "<Channel/>"),
     (400, "Channel must be in the namespace http://schema.broadsoft.com/xsi, got none")),
    (request("7", "AddChannelRequest", f"{CTX}/channel", "POST", f'<Channel xmlns="{XSI}"/>'),
     (400, "Channel: channelSetId is required")),
    (request("7", "UpdateChannelRequest", f"{CTX}/channel/{{channelId}}", "PUT"),
     (400, "UpdateChannelRequest: params has no channelId for the uri "
           f"{CTX}/channel/{{channelId}}")),
    (request("7", "DeleteChannelRequest", f"{CTX}/channel/c1", "GET"),
     (405, f"Method GET is not allowed on {CTX}/channel/c1; allowed: DELETE, PUT")),
    (request("7", "DeleteChannelRequest", f"{CTX}/channels/c1", "DELETE"),
     (404, f"No such resource: {CTX}/channels/c1")),
    (request("7", "DeleteChannelRequest", f"{CTX}/subscription/s1", "DELETE"),
     (400, f"DeleteChannelRequest is DELETE {CTX}/channel/{{channelId}}; DELETE "
           f"{CTX}/subscription/s1 is DeleteSubscriptionRequest")),
    (request("7", "DeleteChannelRequest", f"{CTX}/channel/c1", "DELETE"),
     (404, "Channel not found: c1")),
    (f'<xsp:request xmlns:xsp="{XSP}"><requestId>7</requestId><sessionId>s</sessionId>'
     "</xsp:request>",
     (400, "request: no operation (a CTI element such as AddChannelRequest) after the credentials")),
    (f'<xsp:event xmlns:xsp="{XSP}"><requestId>7</requestId></xsp:event>',
     (400, "event is sent by the server; a client sends request, eventResponse or keepalive")),
])
def test_a_wrong_request_gets_a_response_with_status_and_error_info_and_the_connection_stays(
        document, expected):
    async def scenario():
        async with serve_cti(make_hub()) as listener:
            wire = await Wire.connect(listener.bound[1])
            await wire.send(document)
            answer = await wire.response("7")
            got_status = status(answer)[0]
            assert (got_status, error_summary(answer)[:len(expected[1])]) == expected
            await wire.send(keepalive("8", 60))  # still served
            assert text(await wire.receive(), "requestId") == "8"
            await wire.close()
    run(scenario())


def test_a_malformed_document_gets_one_log_line_an_error_response_and_the_connection_closes(caplog):
    async def scenario():
        async with serve_cti(make_hub()) as listener:
            wire = await Wire.connect(listener.bound[1])
            await wire.send(keepalive("1", 60), "<xsp:request><requestId>2</wrong>")
            assert text(await wire.receive(), "requestId") == "1"  # the good one first
            answer = await wire.receive()
            assert status(answer)[0] == 400
            assert error_summary(answer) == ("Unreadable stream: not well-formed XML: "
                                             "unbound prefix (line 1, column 0)")
            assert await wire.closed()
    with caplog.at_level(logging.INFO, logger="xsp.cti"):
        run(scenario())
    lines = [r.getMessage() for r in caplog.records if "unreadable" in r.getMessage()]
    assert lines == [f"CTI test 127.0.0.1:8012: {WEBEX_CN} (127.0.0.1:"
                     + lines[0].split("(127.0.0.1:")[1].split(")")[0]
                     + ") sent an unreadable stream: not well-formed XML: unbound prefix "
                       "(line 1, column 0); connection closed"]


def test_an_oversized_document_is_refused_before_it_is_all_read(caplog):
    async def scenario():
        async with serve_cti(make_hub(), max_document=4096) as listener:
            wire = await Wire.connect(listener.bound[1])
            await wire.send(request("1", "AddChannelRequest", f"{CTX}/channel", "POST",
                                    channel_body("x" * 8000)))
            answer = await wire.receive()
            assert (status(answer)[0], error_summary(answer)) == (
                400, "Unreadable stream: a document is larger than 4096 bytes")
            assert await wire.closed()
    with caplog.at_level(logging.INFO, logger="xsp.cti"):
        run(scenario())
    assert any("a document is larger than 4096 bytes; connection closed" in r.getMessage()
               for r in caplog.records)


def test_a_refused_cn_gets_a_403_response_with_error_info_and_one_log_line_per_request(caplog):
    async def scenario():
        policy = Policy()
        async with serve_cti(make_hub(), policy) as listener:
            wire = await Wire.connect(listener.bound[1], client_context(pki().intruder))
            await wire.send(request("1", "AddChannelRequest", f"{CTX}/channel", "POST",
                                    channel_body()))
            answer = await wire.response("1")
            assert (status(answer), error_summary(answer)) == (
                (403, "Forbidden"),
                "Client identity intruder.example.com is not in AS_CLI/System/ClientIdentity")
            # read at once: the same connection is served as soon as the CN is allowed
            policy.identities.add("intruder.example.com")
            await open_channel(wire, "2")
            policy.allow_client_app = False
            await wire.send(request("3", "GetChannelSetRequest", f"{CTX}/channelset/webex-set",
                                    "GET"))
            assert status(await wire.response("3")) == (403, "Forbidden")
            await wire.close()
    with caplog.at_level(logging.INFO, logger="xsp.cti"):
        run(scenario())
    refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refused) == 2
    assert refused[0].startswith("CTI test 127.0.0.1:8012: refused intruder.example.com from "
                                 "127.0.0.1:")
    assert refused[0].endswith(": Client identity intruder.example.com is not in "
                               "AS_CLI/System/ClientIdentity (AddChannelRequest, status 403)")


def test_a_dropped_connection_ends_its_channels_and_its_unacknowledged_events_reach_the_other():
    async def scenario():
        hub = make_hub(ack_timeout=0.3, sweep_interval=0.05)
        async with serve_cti(hub) as listener:
            port = listener.bound[1]
            lost, kept = await Wire.connect(port), await Wire.connect(port)
            lost_channel = await open_channel(lost)
            await subscribe(lost, "2")
            (first,) = await lost.events(1)  # not acknowledged
            kept_channel = await open_channel(kept, "1")
            lost.writer.transport.abort()
            for _ in range(50):
                if hub.channel_count == 1:
                    break
                await asyncio.sleep(0.02)
            assert hub.channel_count == 1 and len(listener.connections) == 1
            (again,) = await kept.events(1)
            assert text(xsi(again), f"{{{XSI}}}eventID") == text(xsi(first), f"{{{XSI}}}eventID")
            assert text(xsi(again), f"{{{XSI}}}channelId") == kept_channel != lost_channel
            await kept.close()
    run(scenario())


def test_a_connection_silent_past_its_keepalive_period_is_closed_and_logged(caplog):
    async def scenario():
        hub = make_hub()
        async with serve_cti(hub) as listener:
            wire = await Wire.connect(listener.bound[1])
            await open_channel(wire)
            await wire.send(keepalive("2", 1))
            assert text(await wire.receive(), "requestId") == "2"
            started = asyncio.get_running_loop().time()
            assert await wire.closed(timeout=5)
            waited = asyncio.get_running_loop().time() - started
            assert 1.4 <= waited <= 3.0
            for _ in range(50):
                if hub.channel_count == 0:
                    break
                await asyncio.sleep(0.02)
            assert hub.channel_count == 0
    with caplog.at_level(logging.INFO, logger="xsp.cti"):
        run(scenario())
    assert any(re.search(r"sent nothing for 1\.\d s, past its keepalive period of 1 s "
                         r"\(closed after 1\.5 s\); connection closed", r.getMessage())
               for r in caplog.records)


@pytest.mark.parametrize("restart", [True, False])
def test_restart_and_shutdown_end_channels_with_channel_terminated_event_first(restart):
    async def scenario():
        hub = make_hub()
        async with serve_cti(hub, close_hub=not restart) as listener:
            wire = await Wire.connect(listener.bound[1])
            channel_id = await open_channel(wire)
            await open_channel(wire, "2")  # two channels on one connection
            if restart:
                await listener.stop()
                await listener.end_connections(INTERFACE_STOPPED)
            else:
                await listener.stop()
                await hub.close()
                await listener.end_connections(SHUTTING_DOWN)
            ended = await wire.events(2)
            assert [event_type(e) for e in ended] == ["ChannelTerminatedEvent"] * 2
            assert {text(xsi(e), f"{{{XSI}}}reason") for e in ended} == {"ExplicitDelete"}
            assert channel_id in {text(xsi(e), f"{{{XSI}}}channelId") for e in ended}
            assert await wire.closed()
            assert hub.channel_count == 0
    run(scenario())


def test_every_operation_of_the_note_over_the_cti_interface():
    async def scenario():
        hub = make_hub()
        async with serve_cti(hub, Policy(identities={WEBEX_CN, "intruder.example.com"})) as listener:
            wire = await Wire.connect(listener.bound[1])
            channel_id = await open_channel(wire)
            await wire.send(request("2", "UpdateChannelRequest", f"{CTX}/channel/{{channelId}}",
                                    "PUT", f'<Channel xmlns="{XSI}"><expires>7200</expires></Channel>',
                                    f"<channelId>{channel_id}</channelId>"))
            answer = await wire.response("2")
            assert status(answer) == (200, "OK")
            assert text(answer, f".//{{{XSI}}}expires") == "7200"
            kinds = [
                ("AddUserSubscriptionRequest", f"{CTX}/user/alice@example.com", "alice@example.com"),
                ("AddUserSubIdSubscriptionRequest", f"{CTX}/user/alice@example.com/subId/bob@example.com",
                 "bob@example.com"),
                ("AddGroupSubscriptionRequest", f"{CTX}/serviceprovider/Acme/group/Sales", "Acme/Sales"),
                ("AddEnterpriseSubscriptionRequest", f"{CTX}/enterprise/Acme", "Acme"),
                ("AddServiceProviderSubscriptionRequest", f"{CTX}/serviceProvider/Globex", "Globex"),
                ("AddSystemSubscriptionRequest", f"{CTX}/system", "system"),
            ]
            ids = {}
            for number, (operation, uri, target) in enumerate(kinds, start=10):
                body = subscription_body().replace("Advanced Call", "Basic Call" if number % 2 else
                                                   "Advanced Call")
                await wire.send(request(str(number), operation, uri, "POST", body))
                answer = await wire.response(str(number))
                assert status(answer) == (200, "OK"), (operation, error_summary(answer))
                ids[target] = text(answer, f".//{{{XSI}}}subscriptionId")
            # user subscriptions start with a CallSubscriptionEvent each; wider ones do not
            firsts = await wire.events(2)
            assert {text(xsi(e), f"{{{XSI}}}targetId") for e in firsts} == {
                "alice@example.com", "bob@example.com"}
            alice = ids["alice@example.com"]
            await wire.send(request("20", "GetSingleSubscriptionRequest",
                                    f"{CTX}/subscription/{{subscriptionId}}", "GET",
                                    params=f"<subscriptionId>{alice}</subscriptionId>"))
            answer = await wire.response("20")
            assert text(answer, f".//{{{XSI}}}targetId") == "alice@example.com"
            await wire.send(request("21", "GetSubscriptionsRequest", f"{CTX}/subscription", "GET",
                                    params="<event>Basic Call</event>"))
            answer = await wire.response("21")
            assert sorted(t.text for t in answer.iter(f"{{{XSI}}}targetId")) == [
                "Acme", "bob@example.com", "system"]
            await wire.send(request("22", "UpdateSubscriptionRequest",
                                    f"{CTX}/subscription/{alice}", "PUT",
                                    f'<Subscription xmlns="{XSI}"><expires>600</expires></Subscription>'))
            assert status(await wire.response("22")) == (200, "OK")
            # another client's request on it is refused with 403, and changes nothing
            other = await Wire.connect(listener.bound[1], client_context(pki().intruder))
            for number, (operation, method) in enumerate(
                    [("GetSingleSubscriptionRequest", "GET"), ("UpdateSubscriptionRequest", "PUT"),
                     ("DeleteSubscriptionRequest", "DELETE")], start=30):
                await other.send(request(str(number), operation, f"{CTX}/subscription/{alice}",
                                         method))
                answer = await other.response(str(number))
                assert (status(answer)[0], error_summary(answer)) == (
                    403, f"Subscription {alice} belongs to another client")
            await other.close()
            for number, subscription_id in enumerate(ids.values(), start=40):
                await wire.send(request(str(number), "DeleteSubscriptionRequest",
                                        f"{CTX}/subscription/{subscription_id}", "DELETE"))
                assert status(await wire.response(str(number))) == (200, "OK")
            assert hub.subscription_count == 0
            await wire.close()
    run(scenario())


def test_the_webex_client_speaks_the_cti_interface_by_default():
    async def scenario():
        hub = make_hub()
        async with serve_cti(hub) as listener:
            client = WebexClient(HOST, listener.bound[1], ssl_context=client_context(pki().webex),
                                 channels=2, request_timeout=5.0)
            assert client.transport == "cti"
            async with client:
                await client.subscribe("alice@example.com")
                first = await asyncio.wait_for(anext(aiter(client.events())), 5)
                assert first.type == "CallSubscriptionEvent" and first.client_id == WEBEX_CN
                await CallSimulator(hub).run_call("alice@example.com", "bob@example.com",
                                                  answer_after=0, release_after=0)
                seen = []
                async for event in client.events():
                    seen.append(event)
                    if len(seen) == 6:
                        break
                # two channels: each in order, the set in sequence-number order
                seen = [e.type for e in sorted(seen, key=lambda e: e.sequence_number)]
                assert seen == ["HookStatusEvent", "CallOriginatedEvent", "CallUpdatedEvent",
                                "CallAnsweredEvent", "CallReleasedEvent", "HookStatusEvent"], seen
                assert (await client.audit()).count("<channelId>") == 2
                assert len(client.channel_ids) == 2 and hub.channel_count == 2
                with pytest.raises(WebexClientError,
                                   match="subscribe zed@example.com: status 404: User not found"):
                    await client.subscribe("zed@example.com")
                for _ in range(50):
                    if hub.unacknowledged == 0:
                        break
                    await asyncio.sleep(0.02)
                assert hub.unacknowledged == 0
            assert (hub.channel_count, hub.subscription_count) == (0, 0)
    run(scenario())


def test_a_client_that_does_not_read_stops_being_read_instead_of_growing_buffers():
    async def scenario():
        async with serve_cti(make_hub()) as listener:
            reader, writer = await asyncio.open_connection(
                HOST, listener.bound[1], ssl=client_context(pki().webex))
            writer.transport.pause_reading()  # never reads an answer
            writer.write(keepalive("0", 60).encode())
            for _ in range(100):
                if listener.connections:
                    break
                await asyncio.sleep(0.01)
            (connection,) = listener.connections
            burst = keepalive("k", 60).encode() * 2000
            for _ in range(40):  # 40 x 2,000 requests, each answered
                writer.write(burst)
                try:
                    await asyncio.wait_for(writer.drain(), 0.5)
                except asyncio.TimeoutError:
                    break  # the server stopped reading us: what is wanted
            assert not connection._writable.is_set()
            assert connection._transport.get_write_buffer_size() < 8 * 1024 * 1024
            writer.transport.abort()
    run(scenario())


def test_an_announced_keepalive_period_over_an_hour_counts_as_an_hour():
    async def scenario():
        async with serve_cti(make_hub()) as listener:
            wire = await Wire.connect(listener.bound[1])
            await wire.send(keepalive("1", 10**9))
            assert text(await wire.receive(), "requestId") == "1"
            (connection,) = listener.connections
            assert connection.period == 3600
            await wire.close()
    run(scenario())

"""The Xsi-Events API over real mTLS sockets on 127.0.0.1, through the Webex-like client
and raw HTTP: channels, subscriptions, events in order, acknowledgement and
redelivery, heartbeats, refresh, delete, audit, expiry, shutdown, and every refusal
as an ErrorInfo with its HTTP status."""
from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from collections import defaultdict

import aiohttp
import pytest
import websockets
from websockets.asyncio.client import connect as ws_connect

from tests._xsi_support import (HOST, NS, WEBEX_CN, FakeClock, Policy, client_context, make_hub,
                                next_events, pki, raw, run, serve, webex)
from xsp.cti.calls import CallSimulator
from xsp.webex.received import ChannelReply, ErrorReply, Heartbeat, read_document
from xsp.webex.client import ASYNC_ROOT, ROOT, RequestFailed

TRANSPORTS = pytest.mark.parametrize("transport", ["http", "ws"])
CHANNEL = (f'<Channel xmlns="{NS}"><channelSetId>raw-set</channelSetId>'
           "<expires>60</expires></Channel>")


def subscription(set_id: str = "raw-set") -> str:
    return (f'<Subscription xmlns="{NS}"><event>Advanced Call</event>'
            f"<channelSetId>{set_id}</channelSetId><applicationId>raw</applicationId>"
            "</Subscription>")


async def until(condition, timeout: float = 3.0) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.01)
    await asyncio.wait_for(poll(), timeout)


@TRANSPORTS
def test_a_subscription_s_first_event_is_call_subscription_event_with_the_certificate_cn(transport):
    async def scenario():
        hub = make_hub()
        async with serve(hub) as port, webex(port, transport=transport) as client:
            subscription_id = await client.subscribe("alice@example.com")
            (first,) = await next_events(client, 1)
            assert (first.type, first.sequence_number, first.fields["hookStatus"]) == (
                "CallSubscriptionEvent", 1, "On-Hook")
            assert (first.client_id, first.target_id, first.subscription_id,
                    first.channel_id) == (WEBEX_CN, "alice@example.com", subscription_id,
                                          client.channel_ids[0])
            assert 'xsi1:type="xsi:SubscriptionEvent"' in first.xml
    run(scenario())


@TRANSPORTS
def test_a_simulated_call_reaches_both_parties_in_order_and_every_event_is_acknowledged(transport):
    async def scenario():
        hub = make_hub()
        async with serve(hub) as port, webex(port, transport=transport) as client:
            for user in ("alice@example.com", "bob@example.com"):
                await client.subscribe(user)
            await next_events(client, 2)
            await CallSimulator(hub).run_call("alice@example.com", "bob@example.com",
                                              answer_after=0.01, release_after=0.01)
            received = await next_events(client, 11)
            per_user = defaultdict(list)
            for event in received:
                per_user[event.target_id].append((event.sequence_number, event.type))
            assert per_user["alice@example.com"] == list(enumerate([
                "HookStatusEvent", "CallOriginatedEvent", "CallUpdatedEvent",
                "CallAnsweredEvent", "CallReleasedEvent", "HookStatusEvent"], start=2))
            assert per_user["bob@example.com"] == list(enumerate([
                "CallReceivedEvent", "HookStatusEvent", "CallAnsweredEvent",
                "CallReleasedEvent", "HookStatusEvent"], start=2))
            await until(lambda: hub.stats.acknowledged == 13)
            assert (hub.unacknowledged, hub.stats.redelivered) == (0, 0)
    run(scenario())


@TRANSPORTS
def test_an_unacknowledged_event_comes_again_on_the_other_channel_of_the_set(transport):
    async def scenario():
        hub = make_hub(ack_timeout=0.3, sweep_interval=0.05)
        async with serve(hub) as port, webex(port, transport=transport, channels=2,
                                              auto_ack=False) as client:
            await client.subscribe("alice@example.com")
            first, again = await next_events(client, 2)
            assert (again.event_id, again.sequence_number, again.duplicate) == (
                first.event_id, 1, True)
            assert again.channel_id != first.channel_id
            assert set(client.channel_ids) == {first.channel_id, again.channel_id}
            assert hub.stats.redelivered == 1
            await client.acknowledge(again)
            await asyncio.sleep(0.5)
            assert (hub.unacknowledged, hub.stats.redelivered, hub.stats.acknowledged) == (0, 1, 1)
    run(scenario())


@TRANSPORTS
def test_a_heartbeat_is_answered_on_the_channel_itself(transport):
    async def scenario():
        hub = make_hub()
        async with serve(hub) as port, webex(port, transport=transport) as client:
            await client.heartbeat()
            await client.heartbeat()
            await until(lambda: client.heartbeats_received == 2)
    run(scenario())


def test_refresh_audit_unsubscribe_and_delete():
    async def scenario():
        hub = make_hub(max_subscription_expires=5400)
        async with serve(hub) as port, webex(port, expires=600) as client:
            subscription_id = await client.subscribe("alice@example.com", expires=9000)
            (channel_id,) = client.channel_ids
            await client.refresh_channel(channel_id, 4000)
            assert await client.refresh_subscription(subscription_id, 9000) == 5400
            assert await client.refresh_subscription(subscription_id, 60) == 3600
            assert await client.audit() == (
                '<?xml version="1.0" encoding="UTF-8"?>\n'
                f'<ChannelSet xmlns="{NS}"><channel><channelId>{channel_id}</channelId>'
                f"<channelSetId>{client.channel_set_id}</channelSetId><priority>1</priority>"
                "<weight>50</weight><expires>4000</expires>"
                "<applicationId>xsp-webex-client</applicationId></channel></ChannelSet>")
            await client.unsubscribe(subscription_id)
        await until(lambda: hub.channel_count == 0)  # the client deleted its channel on close
    run(scenario())


@TRANSPORTS
def test_deleting_the_channel_tells_it_explicit_delete_then_ends_its_stream(transport):
    async def scenario():
        hub = make_hub()
        async with serve(hub) as port, webex(port, transport=transport) as client:
            (channel_id,) = client.channel_ids
            await client.request("DELETE", f"{ROOT}/channel/{channel_id}", what="delete")
            (ended,) = await next_events(client, 1, timeout=3)
            # (the HTTP stream reader drops the XML declaration, a WebSocket frame keeps it)
            assert ended.xml.removeprefix('<?xml version="1.0" encoding="UTF-8"?>') == (
                '<xsi:Event '
                f'xmlns:xsi="{NS}" xmlns:xsi1="http://www.w3.org/2001/XMLSchema-instance" '
                f'xsi1:type="xsi:ChannelTerminatedEvent"><xsi:channelId>{channel_id}'
                "</xsi:channelId><xsi:reason>ExplicitDelete</xsi:reason></xsi:Event>")
            assert await next_events(client, 1, timeout=3) == []  # then events() ends
            assert hub.channel_count == 0
    run(scenario())


@TRANSPORTS
def test_an_expired_channel_is_told_so_and_is_gone(transport):
    async def scenario():
        clock = FakeClock()
        hub = make_hub(clock=clock, min_expires=1)
        async with serve(hub) as port, webex(port, transport=transport, expires=30) as client:
            (channel_id,) = client.channel_ids
            clock.advance(31)
            hub.sweep()
            (ended,) = await next_events(client, 1)
            assert ended.terminates_channel
            assert (ended.channel_id, ended.fields["reason"]) == (channel_id, "Expired")
            assert await next_events(client, 1) == []
            with pytest.raises(RequestFailed) as gone:
                await client.request("PUT", f"{ROOT}/channel/{channel_id}/heartbeat",
                                     what="heartbeat")
            assert (gone.value.status, gone.value.error_code) == (404, 40403)
    run(scenario())


@TRANSPORTS
def test_closing_the_hub_sends_channel_terminated_event_to_connected_clients(transport):
    async def scenario():
        hub = make_hub()
        async with serve(hub) as port, webex(port, transport=transport) as client:
            await hub.close()
            (ended,) = await next_events(client, 1)
            assert (ended.type, ended.fields["reason"]) == ("ChannelTerminatedEvent",
                                                             "ExplicitDelete")
            assert await next_events(client, 1) == []
    run(scenario())


def test_every_refusal_is_an_error_info_with_its_http_status():
    async def scenario():
        hub = make_hub()
        policy = Policy(identities={WEBEX_CN, "intruder.example.com"})
        async with serve(hub, policy) as port, webex(port) as client:
            (channel_id,) = client.channel_ids
            cases = [
                (("POST", f"{ROOT}/user/alice@example.com", "<Subscription"), 400, 40001,
                 "not well-formed"),
                (("POST", f"{ROOT}/user/alice@example.com",
                  subscription().replace(NS, "urn:other")), 400, 40001, "must be in the namespace"),
                (("GET", "/com.broadsoft.xsi-actions/v2.0/user/alice", None), 404, 40401,
                 "No such resource"),
                (("POST", f"{ROOT}/user/zed@example.com", subscription(client.channel_set_id)),
                 404, 40402, "User not found: zed@example.com"),
                (("POST", f"{ROOT}/enterprise/Acme/group/Nope", subscription(client.channel_set_id)),
                 404, 40407, "No users in group Nope of enterprise Acme"),
                (("PUT", f"{ROOT}/channel/no-such-channel/heartbeat", None), 404, 40403,
                 "Channel not found"),
                (("DELETE", f"{ROOT}/channelset/x", None), 405, 40501, "allowed: GET"),
                (("POST", f"{ROOT}/channel/eventresponse", "x" * (65 * 1024)), 413, 41301,
                 "larger than 65536 bytes"),
                (("POST", f"{ROOT}/channel/eventresponse",
                  f'<EventResponse xmlns="{NS}"><eventID>nope</eventID></EventResponse>'),
                 404, 40406, "Event not found"),
                (("GET", f"{ASYNC_ROOT}/channel", None), 426, 42601, "Upgrade: websocket"),
            ]
            for (method, path, body), status, code, words in cases:
                got_status, text, headers = await raw(port, method, path, body)
                reply = read_document(text)
                assert isinstance(reply, ErrorReply), (method, path, text)
                assert (got_status, reply.error_code) == (status, code), (method, path, text)
                assert words in reply.summary
                assert headers["Content-Type"].startswith("text/xml")
            # a channel of another client: refused, and left alone
            status, text, _ = await raw(port, "DELETE", f"{ROOT}/channel/{channel_id}",
                                         cert=pki().intruder)
            assert (status, read_document(text)) == (
                403, ErrorReply(f"Channel {channel_id} belongs to another client", 40303))
            assert client.channel_ids == [channel_id] and hub.channel_count == 1
    run(scenario())


def test_a_websocket_channel_refuses_a_bad_first_message_with_error_info_and_close_code():
    async def scenario():
        hub = make_hub()
        async with serve(hub) as port:
            async with ws_connect(f"wss://{HOST}:{port}{ASYNC_ROOT}/channel",
                                  ssl=client_context(pki().webex)) as ws:
                await ws.send(f'<Channel xmlns="{NS}"><expires>10</expires></Channel>')
                reply = read_document(await ws.recv())
                assert isinstance(reply, ErrorReply) and "channelSetId is required" in reply.summary
                with pytest.raises(websockets.ConnectionClosed):
                    await ws.recv()
                assert ws.close_code == 4400
            assert hub.channel_count == 0
    run(scenario())


def test_a_bad_websocket_message_is_answered_with_an_error_event_and_the_channel_stays():
    async def scenario():
        hub = make_hub()
        async with serve(hub) as port:
            async with ws_connect(f"wss://{HOST}:{port}{ASYNC_ROOT}/channel",
                                  ssl=client_context(pki().webex)) as ws:
                await ws.send(CHANNEL)
                reply = read_document(await ws.recv())
                await ws.send("<EventResponse/>")
                text = await ws.recv()
                assert 'xsi1:type="xsi:ErrorEvent"><xsi:errorCode>40001</xsi:errorCode>' in text
                error = read_document(text)
                assert isinstance(error, ErrorReply) and "must be in the namespace" in error.summary
                await ws.send(f'<ChannelHeartBeat xmlns="{NS}"/>')
                assert read_document(await ws.recv()) == Heartbeat()
                await ws.send(f'<Channel xmlns="{NS}"><expires>90</expires></Channel>')
                assert read_document(await ws.recv()) == ChannelReply(reply.channel_id, 3600)
                assert hub.channel_count == 1
            await until(lambda: hub.channel_count == 0)  # closing the WebSocket deleted it
    run(scenario())


@TRANSPORTS
def test_stopping_one_listener_terminates_its_channels_and_leaves_the_others(transport):
    async def scenario():
        hub = make_hub()
        async with serve(hub) as staying_port, webex(staying_port, transport=transport) as staying:
            async with serve(hub, close_hub=False) as leaving_port:
                leaving = webex(leaving_port, transport=transport, channel_set_id="other-set",
                                application_id="another-app")
                await leaving.open()
                assert hub.channel_count == 2
            # the listener's runner is cleaned up: at once, not after aiohttp's timeout
            (ended,) = await next_events(leaving, 1)
            assert (ended.type, ended.fields["reason"]) == ("ChannelTerminatedEvent",
                                                             "ExplicitDelete")
            await leaving.close()
            assert hub.channel_count == 1 and staying.channel_ids
            await staying.heartbeat()
            await until(lambda: staying.heartbeats_received == 1)
    run(scenario(), timeout=10)


def test_a_stream_whose_client_vanished_closes_its_channel_and_its_events_wait():
    async def scenario():
        hub = make_hub()
        async with serve(hub) as port:
            async with aiohttp.ClientSession() as session:
                response = await session.post(f"https://{HOST}:{port}{ASYNC_ROOT}/channel",
                                              data=CHANNEL, ssl=client_context(pki().webex))
                assert b"<channelId>" in await response.content.readany()
                status, _, _ = await raw(port, "POST", f"{ROOT}/user/alice@example.com",
                                          subscription())
                assert status == 200
                response.close()  # the connection drops without a DELETE
            await until(lambda: hub.channel_count == 0)
            assert hub.subscription_count == 1  # the subscription outlives its channel
    run(scenario())


@TRANSPORTS
def test_the_client_heartbeats_by_itself_every_interval(transport):
    async def scenario():
        hub = make_hub()
        async with serve(hub) as port, webex(port, transport=transport,
                                              heartbeat_interval=0.05) as client:
            await until(lambda: client.heartbeats_received >= 3)
    run(scenario())


def test_the_r21_forms_and_a_foreign_subscription_refused_with_403_on_the_xsi_interface():
    async def scenario():
        hub = make_hub()
        policy = Policy(identities={WEBEX_CN, "intruder.example.com"})
        async with serve(hub, policy) as port, webex(port) as client:
            (channel_id,) = client.channel_ids
            status, text, _ = await raw(port, "POST", f"{ROOT}/user/alice@example.com/subscription",
                                         subscription(client.channel_set_id))
            assert status == 200
            subscription_id = ET.fromstring(text).findtext(f"{{{NS}}}subscriptionId")
            assert hub.subscription_count == 1
            for method in ("GET", "PUT", "DELETE"):
                status, text, _ = await raw(port, method, f"{ROOT}/subscription/{subscription_id}",
                                             cert=pki().intruder)
                assert (status, read_document(text)) == (403, ErrorReply(
                    f"Subscription {subscription_id} belongs to another client", 40304))
            status, text, _ = await raw(port, "GET", f"{ROOT}/subscription/{subscription_id}")
            assert status == 200 and "alice@example.com" in text
            status, _, _ = await raw(port, "DELETE", f"{ASYNC_ROOT}/channel/{channel_id}")
            assert status == 200
            await until(lambda: hub.channel_count == 0)
    run(scenario())

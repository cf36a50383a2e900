"""The live page's feed on a real event hub: what it keeps, what it sends, its limits,
and the page server on loopback followed with the ``websockets`` client."""
from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import pytest
import websockets
from aiohttp import ClientSession
from cryptography.hazmat.primitives import serialization

from tests._xsi_support import (WEBEX_CN, FakeClock, channel_request, make_hub, pki, queued,
                                run, subscription_request)
from xsp.cti.channels import Target
from xsp.cti.documents import EventResponse
from xsp.cti.eventdata import hook_status
from xsp.cti.identity import Client
from xsp.webex.received import XsiEvent
from xsp.listener.refusal import Refusal
from xsp.live.address import LivePageError, bind
from xsp.live.feed import LiveFeed
from xsp.live.observer import Admitted
from xsp.live.page import LivePage
from xsp.live.model import CucmView, HubView, ListenerView, NodeView
from xsp.live.views import CTI_KIND, XSI_KIND, hub_view

WEBEX = Client(WEBEX_CN, True)
ALICE = Target(user_id="alice@example.com")
REFUSAL = Refusal(("127.0.0.1", 40000), "xsp1 127.0.0.1:8012",
                  "unknown CA: issuer CN=Partner CA is not a trust anchor", "unknown_ca",
                  "intruder.example.com")


class HubSources:
    """The feed's sources over a real hub and a fixed node list."""

    def __init__(self, hub: Any, nodes: list[NodeView] | None = None) -> None:
        self.event_hub = hub
        self.node_list = nodes or []

    def nodes(self) -> list[NodeView]:
        return self.node_list

    def hub(self, limit: int) -> HubView:
        return hub_view(self.event_hub, limit)

    def cucm(self) -> list[CucmView]:
        return []


def drain(subscriber: Any) -> list[dict[str, Any]]:
    found = []
    while not subscriber.queue.empty():
        found.append(subscriber.queue.get_nowait())
    return found


async def one_event_acknowledged(hub: Any, feed: LiveFeed) -> tuple[Any, str]:
    hub.observer = feed
    channel = hub.open_channel(WEBEX, channel_request())
    subscription, _ = hub.subscribe(WEBEX, ALICE, subscription_request(expires=600))
    (first,) = [e for e in await queued(channel) if isinstance(e, XsiEvent)]
    return subscription, first.event_id


def test_an_event_sent_then_acknowledged_reaches_followers_with_its_latency():
    async def scenario():
        clock = FakeClock()
        hub = make_hub(clock=clock, drain_timeout=0.05)
        feed = LiveFeed(HubSources(hub))
        follower = feed.subscribe()
        subscription, event_id = await one_event_acknowledged(hub, feed)
        await asyncio.sleep(0.01)  # lets the coalesced hub read run
        await asyncio.sleep(0.01)
        hub.acknowledge(WEBEX, EventResponse(event_id))
        await asyncio.sleep(0.01)
        messages = drain(follower)
        kinds = [m["type"] for m in messages]
        assert kinds[0] == "snapshot"
        sent = next(m["event"] for m in messages if m["type"] == "event")
        assert (sent["type"], sent["user"], sent["client"], sent["sequence"], sent["attempt"],
                sent["acknowledged_at"]) == ("CallSubscriptionEvent", "alice@example.com",
                                             WEBEX_CN, 1, 1, None)
        ack = next(m for m in messages if m["type"] == "ack")
        assert ack["event_id"] == event_id and ack["latency_ms"] >= 0
        hubs = [m["hub"] for m in messages if m["type"] == "hub"]
        # While sent the subscription has one unacknowledged event, then none.
        counts = [s["subscriptions"][0]["unacknowledged"] for h in hubs for s in h["channel_sets"]]
        assert counts[0] == 1 and counts[-1] == 0
        (listed,) = hubs[-1]["channel_sets"][0]["subscriptions"]
        assert (listed["id"], listed["target"], listed["package"]) == (
            subscription.id, "alice@example.com", "Advanced Call")
        # The feed keeps the acknowledgement for later followers too.
        snapshot = feed.snapshot()
        assert snapshot["events"][0]["latency_ms"] == ack["latency_ms"]
        await hub.close()
        await feed.stop()
    run(scenario())


def test_expiry_is_sent_as_a_time_so_the_page_counts_down_itself():
    async def scenario():
        clock = FakeClock()
        hub = make_hub(clock=clock, drain_timeout=0.05)
        feed = LiveFeed(HubSources(hub))
        hub.observer = feed
        hub.open_channel(WEBEX, channel_request(expires=7200))
        hub.subscribe(WEBEX, ALICE, subscription_request(expires=5000))
        feed.refresh()
        first = feed.snapshot()["hub"]["channel_sets"][0]
        feed.refresh()
        second = feed.snapshot()["hub"]["channel_sets"][0]
        now = feed.snapshot()["now"]
        assert first == second  # nothing changed: nothing to send
        assert 7199 <= first["channels"][0]["expires_at"] - now <= 7201
        assert 4999 <= first["subscriptions"][0]["expires_at"] - now <= 5001
        await hub.close()
    run(scenario())


def test_refused_and_admitted_connections_go_in_the_timeline_with_reason_and_alert():
    feed = LiveFeed(HubSources(make_hub()))
    follower = feed.subscribe()
    feed.connection_refused(REFUSAL)
    der = pki().webex.certificate.public_bytes(serialization.Encoding.DER)
    feed.connection_admitted(Admitted(("127.0.0.1", 40001), "xsp1 127.0.0.1:8012", "TLSv1.2",
                                      "ECDHE-RSA-AES128-GCM-SHA256", der))
    refused, admitted = [m["connection"] for m in drain(follower) if m["type"] == "connection"]
    assert (refused["outcome"], refused["peer"], refused["subject"], refused["reason"],
            refused["alert"]) == ("refused", "127.0.0.1:40000", "intruder.example.com",
                                  "unknown CA: issuer CN=Partner CA is not a trust anchor",
                                  "unknown_ca")
    assert refused["log_line"] == REFUSAL.log_line
    assert (admitted["outcome"], admitted["subject"], admitted["protocol"], admitted["suite"]) == (
        "admitted", WEBEX_CN, "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256")
    assert admitted["id"] == refused["id"] + 1


def test_the_timeline_and_the_event_list_keep_only_the_last_n():
    async def scenario():
        hub = make_hub(clock=FakeClock(), drain_timeout=0.05)
        feed = LiveFeed(HubSources(hub), timeline=3, events=2)
        for port in range(10):
            feed.connection_refused(Refusal(("127.0.0.1", port), "l", "r", None, None))
        assert [c["peer"] for c in feed.snapshot()["timeline"]] == [
            "127.0.0.1:7", "127.0.0.1:8", "127.0.0.1:9"]
        hub.observer = feed
        hub.open_channel(WEBEX, channel_request())
        hub.subscribe(WEBEX, ALICE, subscription_request())
        for status in ("Off-Hook", "On-Hook", "Off-Hook"):
            hub.publish("alice@example.com", hook_status(status))
        assert [e["sequence"] for e in feed.snapshot()["events"]] == [3, 4]
        assert feed.snapshot()["limits"] == {"timeline": 3, "events": 2, "channel_sets": 200}
        await hub.close()
    run(scenario())


def test_a_follower_that_reads_too_slowly_is_let_go_instead_of_queueing_without_end():
    feed = LiveFeed(HubSources(make_hub()))
    slow = feed.subscribe()
    for port in range(1200):
        feed.connection_refused(Refusal(("127.0.0.1", port), "l", "r", None, None))
    assert slow.overflowed and feed.followers == 0
    assert slow.queue.qsize() <= 1000
    items = drain(slow)
    assert items[-1] is None  # its writer closes the WebSocket


def test_a_failing_source_is_logged_and_never_reaches_the_hub(caplog):
    class Broken(HubSources):
        def nodes(self) -> list[NodeView]:
            raise RuntimeError("bug in a view")

    async def scenario():
        hub = make_hub(clock=FakeClock(), drain_timeout=0.05)
        feed = LiveFeed(Broken(hub))
        feed.subscribe()
        await one_event_acknowledged(hub, feed)  # the hub delivers as if nobody watched
        await asyncio.sleep(0.01)
        await hub.close()
    run(scenario())
    assert "live page: reading the node failed" in caplog.text


def loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_page_and_its_feed_are_served_on_loopback_without_a_token():
    async def scenario():
        feed = LiveFeed(HubSources(make_hub()))
        page = LivePage.open(feed, "127.0.0.1", 0)
        await page.start()
        assert page.token is None and page.url == f"http://127.0.0.1:{page.port}/"
        async with ClientSession() as http:
            async with http.get(page.url) as response:
                html = await response.text()
                assert response.status == 200 and "<title>xsp live</title>" in html
                assert "default-src 'self'" in response.headers["Content-Security-Policy"]
            async with http.get(page.url + "static/live.js") as response:
                assert response.status == 200 and response.content_type == "text/javascript"
            async with http.get(page.url + "static/../page.py") as response:
                assert response.status == 404
        async with websockets.connect(f"ws://127.0.0.1:{page.port}/feed") as ws:
            snapshot = json.loads(await ws.recv())
            assert snapshot["type"] == "snapshot" and snapshot["version"] == 1
            feed.connection_refused(REFUSAL)
            message = json.loads(await asyncio.wait_for(ws.recv(), 2))
            assert message["type"] == "connection"
            assert message["connection"]["reason"] == REFUSAL.reason
            await page.stop()
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 2)
            assert closed.value.rcvd.code == 1001
    run(scenario())


def test_a_non_loopback_address_needs_the_token_printed_at_start():
    async def scenario():
        feed = LiveFeed(HubSources(make_hub()))
        # 127.0.0.1 with a token stands for the non-loopback case: the tests bind only
        # to loopback, and the token check is the same whatever the address.
        page = LivePage(feed, bind("127.0.0.1", 0, fallback=False), token="s3cret-token")
        await page.start()
        base = f"http://127.0.0.1:{page.port}"
        assert page.url == f"{base}/?token=s3cret-token"
        async with ClientSession() as http:
            for path in ("/", "/snapshot.json", "/feed", "/?token=wrong"):
                async with http.get(base + path) as response:
                    assert response.status == 403
                    assert (await response.text()).startswith(
                        "live page: this address needs the access token printed when the node started")
            async with http.get(page.url) as response:
                assert response.status == 200
            async with http.get(base + "/snapshot.json?token=s3cret-token") as response:
                assert (await response.json())["type"] == "snapshot"
        async with websockets.connect(f"ws://127.0.0.1:{page.port}/feed?token=s3cret-token") as ws:
            assert json.loads(await ws.recv())["type"] == "snapshot"
        await page.stop()
    run(scenario())


def test_a_page_on_another_address_always_gets_a_token():
    feed = LiveFeed(HubSources(make_hub()))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    page = LivePage(feed, sock)
    assert page.token is None
    sock.close()
    # The decision is the address's: any non-loopback address gets a fresh token.
    from xsp.live.address import is_loopback
    assert [is_loopback(h) for h in ("127.0.0.1", "127.8.9.10", "::1", "localhost",
                                     "0.0.0.0", "192.0.2.1", "::", "example.com")] == [
        True, True, True, True, False, False, False, False]


def test_a_port_in_use_is_one_clear_line_unless_a_free_one_may_replace_it():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(LivePageError) as refused:
            bind("127.0.0.1", port, fallback=False)
        assert str(refused.value) == f"live page: cannot listen on 127.0.0.1:{port}: Address already in use"
        other = bind("127.0.0.1", port, fallback=True)
        assert other.getsockname()[1] not in (port, 0)
        other.close()


def test_the_hub_view_lists_the_first_channel_sets_and_says_how_many_exist():
    async def scenario():
        hub = make_hub(clock=FakeClock(), drain_timeout=0.05)
        for name in ("set-a", "set-b", "set-c"):
            hub.open_channel(WEBEX, channel_request(name))
        feed = LiveFeed(HubSources(hub), channel_sets=2)
        feed.refresh()
        listed = feed.snapshot()["hub"]
        assert ([s["id"] for s in listed["channel_sets"]], listed["shown"], listed["total"]) == (
            ["set-a", "set-b"], 2, 3)
        await hub.close()
    run(scenario())


def test_a_request_refused_after_the_handshake_is_in_the_timeline_with_its_http_status():
    feed = LiveFeed(HubSources(make_hub()))
    line = ("xsp1 127.0.0.1:8012: refused (no certificate) from 127.0.0.1:40002: A client "
            "certificate is required and none was presented (HTTP 401)")
    feed.request_refused("xsp1 127.0.0.1:8012", "127.0.0.1:40002", "(no certificate)",
                         "A client certificate is required and none was presented", 401, line)
    (entry,) = feed.snapshot()["timeline"]
    assert (entry["outcome"], entry["peer"], entry["subject"], entry["alert"],
            entry["http_status"], entry["log_line"]) == (
        "refused", "127.0.0.1:40002", "(no certificate)", None, 401, line)


def test_followers_beyond_the_limit_are_refused_in_one_line(monkeypatch):
    from xsp.live import page as page_module
    monkeypatch.setattr(page_module, "MAX_FOLLOWERS", 2)

    async def scenario():
        feed = LiveFeed(HubSources(make_hub()))
        page = LivePage.open(feed, "127.0.0.1", 0)
        await page.start()
        url = f"ws://127.0.0.1:{page.port}/feed"
        async with websockets.connect(url) as first, websockets.connect(url) as second:
            for follower in (first, second):
                assert json.loads(await follower.recv())["type"] == "snapshot"
            async with ClientSession() as http:
                async with http.get(f"http://127.0.0.1:{page.port}/feed") as response:
                    assert response.status == 503
                    assert await response.text() == "live page: 2 followers already; try later\n"
        await page.stop()
    run(scenario())


def listener_on(port: int, kind: str) -> ListenerView:
    return ListenerView(f"127.0.0.1:{port}", kind, "127.0.0.1", port, True, True, True, ["TLSv1.2"],
                        [], [], None, None, None, 0, None)


def test_a_request_refused_on_the_cti_interface_keeps_the_status_the_cti_interface_answered():
    nodes = [NodeView("xsp1", "XSP", True, [], listeners=[listener_on(8012, CTI_KIND),
                                                          listener_on(8443, XSI_KIND)])]
    feed = LiveFeed(HubSources(make_hub(), nodes))
    feed.refresh()
    cti_line = ("CTI xsp1 127.0.0.1:8012: refused bwcticlient.webex.com from 127.0.0.1:40003: Client "
                "identity bwcticlient.webex.com is not in AS_CLI/System/ClientIdentity (AddChannelSet, "
                "status 403)")
    feed.request_refused("xsp1 127.0.0.1:8012", "127.0.0.1:40003", "bwcticlient.webex.com",
                         "Client identity bwcticlient.webex.com is not in AS_CLI/System/ClientIdentity",
                         403, cti_line)
    feed.request_refused("xsp1 127.0.0.1:8443", "127.0.0.1:40004", "bwcticlient.webex.com",
                         "Client identity bwcticlient.webex.com is not in AS_CLI/System/ClientIdentity",
                         403, "xsp1 127.0.0.1:8443: ... (HTTP 403)")
    on_cti, on_xsi = feed.snapshot()["timeline"]
    assert (on_cti["cti_status"], on_cti["http_status"], on_cti["log_line"]) == (403, None, cti_line)
    assert (on_xsi["cti_status"], on_xsi["http_status"]) == (None, 403)


def test_a_ctimanager_refusal_is_in_the_timeline_with_its_cti_error_and_words():
    feed = LiveFeed(HubSources(make_hub()))
    feed.cti_refused("cucm1 CTIManager 127.0.0.1:2748", "127.0.0.1:40005", "jtapisecure", "0x8CCC00E1",
                     "Initialization failed - security configuration does not match with Unified CM TSP",
                     "jtapisecure is in 'Standard CTI Secure Connection' ...", "the log line")
    (entry,) = feed.snapshot()["timeline"]
    assert (entry["outcome"], entry["listener"], entry["subject"], entry["cti_error"], entry["alert"],
            entry["http_status"], entry["log_line"]) == (
        "refused", "cucm1 CTIManager 127.0.0.1:2748", "jtapisecure", "0x8CCC00E1", None, None,
        "the log line")

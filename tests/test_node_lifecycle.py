"""The node's life cycle end to end: ``emu restart`` applies a configuration change in
the same process as bwrestart does (open channels are told ChannelTerminatedEvent and
end, subscriptions survive for the next channel of their set); a restart that removes
the interface and the node's shutdown each tell an open channel why it ends;
``NodeHost.status`` lines (listening, an address not on this host mapped into
loopback, a listener that can negotiate nothing); and one node per state. Each test
configures its own node with the guide's procedure.
"""
from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
from pathlib import Path

import pytest

from tests._node_support import (CIPHERS, HOST, NODE, PROTOCOLS, ConfiguredNode, MatrixPKI,
                                 attempt, client_context, configured_node, free_port, lines_about,
                                 make_pki)
from xsp.node.control import NodeAlreadyRunning
from xsp.node.background import NodeThread
from xsp.procedure import RECOMMENDED_CIPHER, WEBEX_CLIENT_CN
from xsp.webex.client import WebexClient, tls_context

UNLISTED_IP = "10.155.6.175"  # the guide's example interface
MAPPED_IP = "127.155.6.175"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> MatrixPKI:
    """The certificates of the node tests, made once for the module."""
    return make_pki(tmp_path_factory.mktemp("node-lifecycle-pki"))


async def subscribed_channel(client: WebexClient, user: str):
    """Subscribe ``user`` and read its subscription event: (event stream, the one channel id)."""
    await client.subscribe(user)
    stream = client.events().__aiter__()
    await asyncio.wait_for(anext(stream), 5)
    (channel_id,) = client.channel_ids
    return stream, channel_id


def webex_client(node: ConfiguredNode, pki: MatrixPKI, *,
                 channel_set_id: str | None = None) -> WebexClient:
    """The demo Webex client as Webex runs it: its leaf certificate, the partner's CA."""
    context = tls_context(str(pki.demo.webex_client_cert), str(pki.demo.webex_client_key),
                          str(pki.demo.partner_ca))
    return WebexClient(HOST, node.port, ssl_context=context, request_timeout=5,
                       channel_set_id=channel_set_id)


def status(node: ConfiguredNode) -> list[str]:
    async def read() -> list[str]:
        return node.thread.host.status(NODE)
    return node.thread.call(read(), timeout=5)


def connection_refused(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(2)
        return probe.connect_ex((host, port)) == errno.ECONNREFUSED


def test_a_restart_ends_the_open_channel_applies_the_new_cipher_list_and_keeps_subscriptions(
        tmp_path: Path, pki: MatrixPKI) -> None:
    """As bwrestart, in the same process: the guide's suite is replaced by
    TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 and the node restarted with a channel open.
    The channel is told ChannelTerminatedEvent (ExplicitDelete) and ends, so no client
    keeps a session made under the old settings; new connections get the new list only;
    the hub and its subscriptions survive, so a new channel in the same channel set gets
    the events of a call made afterwards."""
    with configured_node(tmp_path, pki, test_anchor=False) as node:
        hub = node.thread.host.hub

        async def scenario() -> None:
            async with webex_client(node, pki, channel_set_id="restart-set") as first:
                subscription = await first.subscribe("alice@example.com")
                stream = first.events().__aiter__()
                assert (await asyncio.wait_for(anext(stream), 5)).type == "CallSubscriptionEvent"
                (channel_id,) = first.channel_ids

                restarted = await asyncio.to_thread(
                    node.run, f"cd {CIPHERS}", f"add {HOST} TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
                    f"delete {HOST} {RECOMMENDED_CIPHER}", "emu restart")
                assert "Node xsp1 restarted." in restarted
                ended = await asyncio.wait_for(anext(stream), 5)
                assert (ended.type, ended.channel_id, ended.fields) == (
                    "ChannelTerminatedEvent", channel_id, {"reason": "ExplicitDelete"})
                with pytest.raises(StopAsyncIteration):
                    await asyncio.wait_for(anext(stream), 5)

                old = await asyncio.to_thread(attempt, node.port, client_context(
                    pki, pki.webex_leaf(), ciphers="ECDHE-RSA-AES128-GCM-SHA256"))
                new = await asyncio.to_thread(attempt, node.port, client_context(
                    pki, pki.webex_leaf(), ciphers="ECDHE-RSA-AES256-GCM-SHA384"))
                assert old.alert == "SSLV3_ALERT_HANDSHAKE_FAILURE"
                assert (new.alert, new.cipher, new.status) == (
                    None, "ECDHE-RSA-AES256-GCM-SHA384", 404)

                async with webex_client(node, pki, channel_set_id="restart-set") as second:
                    (new_channel,) = second.channel_ids
                    call = asyncio.create_task(asyncio.to_thread(node.control.send, {
                        "op": "call", "caller": "alice@example.com", "callee": "bob@example.com",
                        "answer_after": 0.05, "release_after": 0.05}))
                    event = await asyncio.wait_for(anext(second.events().__aiter__()), 5)
                    assert (event.subscription_id, event.channel_id, event.target_id,
                            event.client_id) == (subscription, new_channel, "alice@example.com",
                                                 WEBEX_CLIENT_CN)
                    assert new_channel != channel_id
                    assert event.type not in ("CallSubscriptionEvent", "ChannelTerminatedEvent")
                    await asyncio.wait_for(call, 5)
        asyncio.run(scenario())
        assert node.thread.host.hub is hub


def test_a_restart_that_deletes_the_interface_ends_its_open_channel_with_channel_terminated_event(
        tmp_path: Path, pki: MatrixPKI) -> None:
    with configured_node(tmp_path, pki, test_anchor=False) as node:
        async def scenario() -> None:
            async with webex_client(node, pki) as client:
                stream, channel_id = await subscribed_channel(client, "alice@example.com")
                lines = await asyncio.to_thread(node.run, "cd /Interface/CTI/CTIServer",
                                                f"delete {HOST}", "emu restart")
                assert lines.endswith("Node xsp1 restarted.\n"
                                      "CTI listeners: none configured (Interface/CTI/CTIServer add)")
                ended = await asyncio.wait_for(anext(stream), 5)
                assert (ended.type, ended.channel_id, ended.fields) == (
                    "ChannelTerminatedEvent", channel_id, {"reason": "ExplicitDelete"})
                with pytest.raises(StopAsyncIteration):
                    await asyncio.wait_for(anext(stream), 5)
        asyncio.run(scenario())
        assert connection_refused(HOST, node.port)


def test_shutdown_sends_channel_terminated_event_to_an_open_channel(
        tmp_path: Path, pki: MatrixPKI) -> None:
    with configured_node(tmp_path, pki, test_anchor=False) as node:
        async def scenario() -> None:
            async with webex_client(node, pki) as client:
                stream, channel_id = await subscribed_channel(client, "alice@example.com")
                await asyncio.to_thread(node.close)
                ended = await asyncio.wait_for(anext(stream), 5)
                assert (ended.type, ended.channel_id, ended.event_id, ended.fields) == (
                    "ChannelTerminatedEvent", channel_id, None, {"reason": "ExplicitDelete"})
                with pytest.raises(StopAsyncIteration):
                    await asyncio.wait_for(anext(stream), 5)
        asyncio.run(scenario())
        assert connection_refused(HOST, node.port)


def test_status_lists_each_listener_and_maps_an_address_not_on_this_host_into_loopback(
        tmp_path: Path, pki: MatrixPKI) -> None:
    """The guide's 10.155.6.175 is served on 127.155.6.175, same port, and says so; the
    interface still has the self-signed certificate ``add`` made, and the Webex client
    (trust anchors are common to all CTI interfaces) is served there."""
    with socket.socket() as probe:
        try:
            probe.bind((UNLISTED_IP, 0))
            pytest.skip(f"{UNLISTED_IP} is an address of this host")
        except OSError:
            pass
    port = free_port(MAPPED_IP)
    with configured_node(tmp_path, pki, test_anchor=False,
                         extra=("cd /Interface/CTI/CTIServer",
                                f"add {UNLISTED_IP} {port} true true true")) as node:
        assert status(node) == [
            "CTI listeners:",
            f"  {HOST}:{node.port}  TLS, client certificate required; "
            f"listening on {HOST}:{node.port}",
            f"  {UNLISTED_IP}:{port}  TLS, client certificate required; "
            f"listening on {MAPPED_IP}:{port} "
            f"({UNLISTED_IP} is not an address of this host; bound {MAPPED_IP} instead)",
        ]
        outcome = attempt(port, client_context(pki, pki.webex_leaf(), verify_server=False),
                          host=MAPPED_IP)
        assert (outcome.alert, outcome.status) == (None, 404)


def test_with_no_negotiable_suite_the_interface_listens_refuses_every_handshake_and_says_why(
        tmp_path: Path, pki: MatrixPKI, caplog: pytest.LogCaptureFixture) -> None:
    """TLSv1.3 only, with only the guide's TLS 1.2 suite: as on a real XSP the port is open
    and every handshake fails (protocol_version, whatever the client offers); the node
    logs the reason once at the restart, status repeats it, and each refused client gets
    its own line and is counted in status."""
    caplog.set_level(logging.INFO, logger="xsp")
    why = ("refusing every handshake: no cipher overlap: none of the 1 configured suites "
           "can be negotiated with TLSv1.3 and an RSA server key")
    with configured_node(tmp_path, pki, test_anchor=False) as node:
        caplog.clear()
        lines = node.run(f"cd {PROTOCOLS}", f"add {HOST} TLSv1.3", f"delete {HOST} TLSv1.2",
                         "emu restart").splitlines()
        line = (f"  {HOST}:{node.port}  TLS, client certificate required; "
                f"listening on {HOST}:{node.port}; {why}")
        assert lines[-3:] == ["Node xsp1 restarted.", "CTI listeners:", line]
        assert status(node) == ["CTI listeners:", line]
        assert [r.getMessage() for r in caplog.records if r.name == "xsp.node"] == [
            f"{NODE} {HOST}:{node.port}: listening on {HOST}:{node.port}",
            f"{NODE} {HOST}:{node.port}: {why}", f"{NODE} restarted"]
        for version in ("TLSv1.2", "TLSv1.3"):
            outcome = attempt(node.port, client_context(pki, pki.webex_leaf(), version=version))
            assert outcome.alert == "TLSV1_ALERT_PROTOCOL_VERSION", version
            assert lines_about(caplog, outcome.client_port) == [
                f"CTI {NODE} {HOST}:{node.port}: refused {HOST}:{outcome.client_port}: "
                "no TLS version is enabled on this listener; sent alert protocol_version"]
        assert status(node) == [
            "CTI listeners:", f"{line}; 2 connection(s) refused since the restart (see xsp.log)"]


def test_a_second_node_on_the_same_state_is_refused_and_the_first_keeps_serving(
        tmp_path: Path, pki: MatrixPKI) -> None:
    with configured_node(tmp_path, pki, test_anchor=False) as node:
        with pytest.raises(NodeAlreadyRunning,
                           match=rf"^a node already runs on this state \(pid {os.getpid()}\)$"):
            NodeThread(node.store).start()
        outcome = attempt(node.port, client_context(pki, pki.webex_leaf()))
        assert (outcome.alert, outcome.status) == (None, 404)
        assert "Node xsp1 restarted." in node.restart()  # the control socket is still the first's

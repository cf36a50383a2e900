"""A bounded soak of client churn: connect, subscribe, receive a call's events (each
acknowledged), disconnect, 200 times. Measured in the node process (`xsp serve`, read
from /proc): open descriptors return exactly to where they were, and resident memory
stays within a stated tolerance.

Tolerance: RSS may grow by at most 3 MiB over the 200 measured cycles. By design the
hub remembers the ids of the last 4,096 acknowledged events (about 1 MiB at six events
a cycle); a leak of one connection's TLS and HTTP state per cycle (20 KiB or more)
would exceed it. Descriptors get no tolerance.
"""
from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from _hardening_support import (HOST, MiB, LineReader, QuickNode, child_env,
                                configure_webex_state, kill9, proc_fd_count, proc_rss_kib,
                                xsp_command)
from xsp.node.control import request
from xsp.testing import free_port
from xsp.webex.client import WebexClient, tls_context

WARM_UP = 30
CYCLES = 200
RSS_TOLERANCE_KIB = 3 * MiB // 1024
CALL_EVENTS = {"CallOriginatedEvent", "CallAnsweredEvent", "CallReleasedEvent"}


@dataclass
class ServedNode:
    proc: subprocess.Popen[bytes]
    state: Path
    port: int
    context_files: tuple[str, str, str]

    def call(self, caller: str, callee: str) -> None:
        reply = request(self.state, {"op": "call", "caller": caller, "callee": callee,
                                     "answer_after": 0, "release_after": 0}, timeout=10)
        assert reply["ok"], reply

    def settled(self, fds: int, timeout: float = 5.0) -> int:
        """The node's descriptor count once it is back to ``fds`` (or the deadline passed)."""
        deadline = time.monotonic() + timeout
        while proc_fd_count(self.proc.pid) != fds and time.monotonic() < deadline:
            time.sleep(0.05)
        return proc_fd_count(self.proc.pid)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServedNode]:
    """A Webex-configured state served by ``xsp serve`` in its own process."""
    port = free_port()
    store, pki = configure_webex_state(tmp_path, port)
    with (tmp_path / "serve.err").open("wb") as errors:
        proc = subprocess.Popen(xsp_command("serve", "--state", str(store.dir)),
                                stdout=subprocess.PIPE, stderr=errors, env=child_env())
    try:
        LineReader(proc).wait_for(r"^Serving; ", 20)
        yield ServedNode(proc, store.dir, port, (str(pki.webex_client_cert),
                                                 str(pki.webex_client_key), str(pki.partner_ca)))
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                kill9(proc)


async def _cycle(node: ServedNode, user: str) -> list[str]:
    """One Webex session: open, subscribe, a call's events (auto-acknowledged), close."""
    context = tls_context(*node.context_files)
    async with WebexClient(HOST, node.port, ssl_context=context, request_timeout=10) as client:
        await client.subscribe(user)
        events = client.events()
        first = await asyncio.wait_for(anext(events), 10)
        assert first.type == "CallSubscriptionEvent"
        await asyncio.to_thread(node.call, user, "bob@example.com")
        received = [await asyncio.wait_for(anext(events), 10) for _ in range(5)]
        assert not any(e.duplicate for e in received), "an acknowledgement was lost"
        return [e.type for e in received]


@pytest.mark.slow
def test_client_churn_leaves_node_descriptors_and_memory_flat(served: ServedNode) -> None:
    """200 connect/subscribe/receive/acknowledge/disconnect cycles after a warm-up: the
    node's open descriptors end exactly where they began, its RSS within 3 MiB."""
    async def churn(count: int) -> None:
        for _ in range(count):
            types = await _cycle(served, "alice@example.com")
            assert CALL_EVENTS <= set(types), types

    asyncio.run(churn(WARM_UP))
    fds = served.settled(proc_fd_count(served.proc.pid))
    rss = proc_rss_kib(served.proc.pid)
    asyncio.run(churn(CYCLES))
    assert served.settled(fds) == fds, "the node holds descriptors the clients gave back"
    grown = proc_rss_kib(served.proc.pid) - rss
    assert grown <= RSS_TOLERANCE_KIB, f"node RSS grew by {grown} KiB over {CYCLES} cycles"
    assert served.proc.poll() is None


def test_client_churn_leaves_no_channel_subscription_or_pending_event(tmp_path: Path) -> None:
    """After 40 sessions that subscribe, receive and leave, the hub holds no channel, no
    subscription and no unacknowledged event (an in-process node, so the hub is visible)."""
    with QuickNode.start_quick(tmp_path, handshake_timeout=10.0) as node:
        hub = node.host_object.hub
        for _ in range(40):
            with node.webex_client() as session:
                session.subscribe("alice@example.com")
                assert session.next_event().type == "CallSubscriptionEvent"
                node.call("alice@example.com", "bob@example.com", answer_after=0, release_after=0)
                assert CALL_EVENTS <= {e.type for e in session.events(5)}
        deadline = time.monotonic() + 5
        while (hub.channel_count, hub.subscription_count, hub.unacknowledged) != (0, 0, 0):
            assert time.monotonic() < deadline, (hub.channel_count, hub.subscription_count,
                                                 hub.unacknowledged)
            time.sleep(0.05)

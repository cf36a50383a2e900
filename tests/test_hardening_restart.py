"""Restarts of one node are serialized: two ``emu restart`` at the same moment (two
shells, or a shell and a control request) leave exactly the listeners the node tracks,
each built from the configuration as it is now, so a deleted trust anchor admits no one.
"""
from __future__ import annotations

import asyncio
import errno
import socket
import threading
from pathlib import Path
from typing import Any

import pytest

from tests._node_support import (HOST, NODE, TEST_ANCHOR_ALIAS, TRUSTS, MatrixPKI, attempt,
                                 client_context, configured_node, make_pki)
from xsp.config.store import Store
from xsp.node.control import NodeLock, close_control, request, serve_control
from xsp.node.host import HostStopped
from xsp.node.loop import LoopThread
from xsp.node.managed import ManagedNodeControl


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> MatrixPKI:
    """The matrix PKI (demo CAs and clients) this module's nodes trust."""
    return make_pki(tmp_path_factory.mktemp("restart-pki"))


def connection_refused(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(2)
        return probe.connect_ex((host, port)) == errno.ECONNREFUSED


def concurrent_restarts(state: Path, count: int) -> list[dict[str, Any]]:
    """``count`` control requests to restart the node, released at the same instant."""
    start = threading.Barrier(count)
    replies: list[dict[str, Any]] = []

    def one() -> None:
        start.wait()
        replies.append(request(state, {"op": "restart", "node": NODE}, timeout=30))

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return replies


def test_concurrent_restarts_leave_one_tracked_listener_and_a_deleted_anchor_admits_no_one(
        tmp_path: Path, pki: MatrixPKI) -> None:
    with configured_node(tmp_path, pki) as node:
        test_client = client_context(pki, pki.partial_chain)
        assert attempt(node.port, test_client).status == 404
        for _ in range(3):
            replies = concurrent_restarts(node.store.dir, 4)
            assert len(replies) == 4
            for reply in replies:
                assert reply["ok"], reply
                assert reply["lines"][-1] == (f"  {HOST}:{node.port}  TLS, client certificate "
                                              f"required; listening on {HOST}:{node.port}")
        node.run(f"cd {TRUSTS}", f"delete {TEST_ANCHOR_ALIAS}")
        lines = node.restart()
        assert lines[-1] == (f"  {HOST}:{node.port}  TLS, client certificate required; "
                             f"listening on {HOST}:{node.port}")
        outcome = attempt(node.port, test_client)
        assert (outcome.alert, outcome.status) == ("TLSV1_ALERT_UNKNOWN_CA", None)


def test_shutdown_waits_for_a_restart_in_progress_and_refuses_a_later_one(
        tmp_path: Path, pki: MatrixPKI) -> None:
    """A restart, the node's shutdown and another restart at the same moment: the first
    restart completes, the shutdown then closes what it opened, and the second is told
    the node is shutting down; nothing is left on the port."""
    with configured_node(tmp_path, pki, test_anchor=False) as node:
        host = node.thread.host

        async def together() -> list[object]:
            return await asyncio.gather(host.restart(NODE), host.stop(), host.restart(NODE),
                                        return_exceptions=True)

        first, stopped, second = node.thread.call(together(), timeout=30)
        assert isinstance(first, list) and first[0] == "Node xsp1 restarted."
        assert stopped is None
        assert isinstance(second, HostStopped) and str(second) == "the node is shutting down"
        assert connection_refused(HOST, node.port)
        assert host.nodes == {}


def test_a_shell_that_loses_the_start_race_waits_for_the_other_node(tmp_path: Path) -> None:
    """Two shells on one state at once: the second finds the node lock taken by a node
    still opening its listeners (no control socket yet). It waits for that node and its
    emu restart reaches it, instead of saying no node runs."""
    store = Store(tmp_path / "state")
    store.load()
    other = NodeLock(store.dir)
    other.acquire()
    loop = LoopThread("other-node")
    try:
        async def answer(req: dict[str, Any]) -> dict[str, Any]:
            return {"ok": True, "lines": [f"other node: {req['op']}"]}

        async def open_later() -> asyncio.AbstractServer:
            await asyncio.sleep(1.0)  # the other node's listeners are starting
            return await serve_control(store.dir, answer)

        opening = asyncio.run_coroutine_threadsafe(open_later(), loop.loop)
        control = ManagedNodeControl(store)
        assert control.restart(store, NODE) == ["other node: restart"]
        assert control.embedded is None
        loop.run(close_control(opening.result(5), store.dir))
    finally:
        loop.close()
        other.release()

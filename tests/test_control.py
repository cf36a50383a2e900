"""One node per state, and an owner-only control channel."""
from __future__ import annotations

import asyncio
import os
import stat

import pytest

from xsp.config.store import Store
from xsp.node.control import NodeAlreadyRunning, NodeLock, NodeUnavailable, request, serve_control, socket_path


def test_second_node_on_a_state_is_refused_with_the_holder_pid(tmp_path):
    first = NodeLock(tmp_path)
    first.acquire()
    try:
        with pytest.raises(NodeAlreadyRunning, match=rf"a node already runs on this state \(pid {os.getpid()}\)"):
            NodeLock(tmp_path).acquire()
    finally:
        first.release()
    again = NodeLock(tmp_path)
    again.acquire()  # released locks are free again
    again.release()


def test_state_directory_is_owner_only(tmp_path):
    store = Store(tmp_path / "state")
    store.load()
    assert stat.S_IMODE(store.dir.stat().st_mode) == 0o700


def test_control_socket_is_0600_and_answers_json_lines(tmp_path):
    async def handler(req):
        return {"ok": True, "lines": [f"echo {req['op']}"]}

    async def main():
        server = await serve_control(tmp_path, handler)
        try:
            mode = stat.S_IMODE(os.stat(socket_path(tmp_path)).st_mode)
            reply = await asyncio.to_thread(request, tmp_path, {"op": "status"})
            return mode, reply
        finally:
            server.close()
            await server.wait_closed()

    mode, reply = asyncio.run(main())
    assert mode == 0o600
    assert reply == {"ok": True, "lines": ["echo status"]}


def test_request_without_a_node_says_how_to_start_one(tmp_path):
    with pytest.raises(NodeUnavailable, match=r"no node runs on .* \(start one with: xsp serve --state"):
        request(tmp_path, {"op": "ping"})


def test_status_names_a_node_running_in_this_process(tmp_path):
    from xsp.testing import RunningNode, shell_engine

    with RunningNode.start(tmp_path, configure=False) as node:
        lines = shell_engine(node.store).execute("emu status").lines
    assert lines[1] == "Node process: running in this process"

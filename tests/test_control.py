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


def _raw_exchange(path: str, chunks: list[bytes], *, shut: bool = False) -> list[dict]:
    """Send ``chunks`` on one connection and read a reply line after each newline sent."""
    import json
    import socket

    replies = []
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(path)
        for chunk in chunks:
            sock.sendall(chunk)
        if shut:
            sock.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
            if not shut and data.count(b"\n") == sum(c.count(b"\n") for c in chunks):
                break
    return [json.loads(line) for line in data.splitlines()]


@pytest.mark.parametrize("shut", [False, True], ids=["newline", "end-of-stream"])
def test_a_line_over_the_limit_gets_an_error_reply_and_the_connection_carries_on(
        tmp_path, caplog, shut):
    """2 MiB on one line (or without a newline before the end of the stream): one error
    reply naming the limit, one warning line and no traceback; the next request on the
    same connection is answered."""
    import logging

    from xsp.node.control import MAX_REQUEST_BYTES

    caplog.set_level(logging.INFO)

    async def handler(req):
        return {"ok": True, "lines": [f"echo {req['op']}"]}

    oversized = b'{"op": "' + b"x" * (2 * MAX_REQUEST_BYTES) + b'"}'
    chunks = [oversized] if shut else [oversized + b"\n", b'{"op": "ping"}\n']

    async def main():
        server = await serve_control(tmp_path, handler)
        try:
            return await asyncio.to_thread(_raw_exchange, str(socket_path(tmp_path)), chunks,
                                           shut=shut)
        finally:
            server.close()
            await server.wait_closed()

    replies = asyncio.run(main())
    too_long = {"ok": False, "lines": ["Error: a control request is one JSON line of at most "
                                       "1 MiB; this one was longer"]}
    assert replies == ([too_long] if shut else [too_long, {"ok": True, "lines": ["echo ping"]}])
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", "control socket: refused a request longer than 1048576 bytes")]
    assert not any(r.exc_info for r in caplog.records)


def test_the_client_refuses_a_request_over_the_limit_before_sending(tmp_path):
    from xsp.node.control import RequestTooLong

    with pytest.raises(RequestTooLong, match=r"^the request is 2097163 bytes; the node takes "
                                             r"at most 1048576 in one request$"):
        request(tmp_path, {"op": "x" * (2 * 1024 * 1024)})

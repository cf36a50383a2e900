"""One node per state, and the owner-only channel that shells and tools use to reach it.

The running node holds an exclusive ``flock`` on ``<state>/node.lock`` (the kernel drops
it when the process dies, so a killed node never blocks the next one) and answers JSON
lines on the Unix socket ``<state>/node.sock``, created 0600 inside the state directory.
A request line is at most 1 MiB (a scenario travels in one); a longer one is read to its
end without being kept and answered with an error, and the connection carries on.
"""
from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import socket
import stat
from pathlib import Path
from typing import Any, Awaitable, Callable

from xsp.config import statedir

LOCK_NAME = "node.lock"
SOCKET_NAME = "node.sock"
MAX_REQUEST_BYTES = 1024 * 1024
TOO_LONG = (f"Error: a control request is one JSON line of at most "
            f"{MAX_REQUEST_BYTES // (1024 * 1024)} MiB; this one was longer")

log = logging.getLogger("xsp.node")

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


class NodeError(RuntimeError):
    """The node refused or could not be reached; ``str()`` is the one line a user sees."""


class NodeAlreadyRunning(NodeError):
    pass


class NodeUnavailable(NodeError):
    pass


class RequestTooLong(NodeError):
    pass


class NodeLock:
    """Held for the life of a node; a second node on the same state is refused."""

    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        statedir.make_dir(self.path.parent)
        fd = statedir.open_lock(self.path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise NodeAlreadyRunning(f"a node already runs on this state (pid {holder})") from None
        try:
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
        except OSError:
            pass  # the pid only informs a second node's refusal; a full disk must not stop this one
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def socket_path(state_dir: Path) -> Path:
    return Path(state_dir) / SOCKET_NAME


async def serve_control(state_dir: Path, handler: Handler) -> asyncio.AbstractServer:
    path = socket_path(state_dir)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()  # left by a node that was killed; we hold the node lock now

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    line = await _read_line(reader)
                except _TooLong:
                    log.warning("control socket: refused a request longer than %d bytes",
                                MAX_REQUEST_BYTES)
                    reply: dict[str, Any] = {"ok": False, "lines": [TOO_LONG]}
                else:
                    if line is None:
                        break
                    try:
                        reply = await handler(json.loads(line))
                    except Exception as exc:  # a bad request must not take the node down
                        reply = {"ok": False, "lines": [f"Error: {type(exc).__name__}: {exc}"]}
                writer.write(json.dumps(reply).encode() + b"\n")
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    old_umask = os.umask(0o177)  # the socket is created owner-only, with no window
    try:
        server = await asyncio.start_unix_server(on_client, path=str(path),
                                                 limit=MAX_REQUEST_BYTES)
    finally:
        os.umask(old_umask)
    return server


class _TooLong(Exception):
    pass


async def _read_line(reader: asyncio.StreamReader) -> bytes | None:
    """The next request line, or None at the end of the stream. A line over the limit is
    read to its end and dropped (the reader keeps at most the limit), then ``_TooLong``."""
    too_long = False
    while True:
        try:
            line = await reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as end:
            if too_long:
                raise _TooLong from None
            return end.partial or None
        except asyncio.LimitOverrunError as over:
            too_long = True
            await reader.readexactly(over.consumed)  # already buffered: dropped, not kept
            continue
        if too_long:
            raise _TooLong
        return line


async def close_control(server: asyncio.AbstractServer, state_dir: Path) -> None:
    """Stop answering and remove the socket, so no client mistakes it for a live node."""
    server.close()
    await server.wait_closed()
    with contextlib.suppress(FileNotFoundError):
        socket_path(state_dir).unlink()


def request(state_dir: Path, payload: dict[str, Any], timeout: float = 30.0) -> dict[str, Any]:
    """Send one request to the node running on ``state_dir`` (blocking)."""
    path = socket_path(state_dir)
    line = json.dumps(payload).encode() + b"\n"
    if len(line) > MAX_REQUEST_BYTES:
        raise RequestTooLong(f"the request is {len(line)} bytes; the node takes at most "
                             f"{MAX_REQUEST_BYTES} in one request")
    _refuse_foreign_socket(path)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError):
            raise NodeUnavailable(f"no node runs on {state_dir} (start one with: xsp serve --state {state_dir})") from None
        sock.sendall(line)
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                raise NodeUnavailable("the node closed the control connection")
            data += chunk
    return json.loads(data)


def _refuse_foreign_socket(path: Path) -> None:
    """A socket someone else made is not our node: it would receive our commands."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return  # connect says no node runs
    except NotADirectoryError:
        raise NodeUnavailable(f"the state directory {path.parent} is not a directory; "
                              "--state takes a directory") from None
    if not stat.S_ISSOCK(st.st_mode) or st.st_uid != os.geteuid():
        raise NodeUnavailable(f"{path} is not this user's node socket (owner uid {st.st_uid}); "
                              "refusing to talk to it")


# How long a ping waits for a node whose socket took the connection. No node answers at
# once (no socket, or connection refused); a live one under a burst of connections may
# need a few seconds before it can accept again.
PING_TIMEOUT = 10.0


def node_running(state_dir: Path) -> bool:
    try:
        return request(state_dir, {"op": "ping"}, timeout=PING_TIMEOUT).get("ok", False)
    except (NodeUnavailable, OSError):
        return False

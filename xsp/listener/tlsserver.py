"""A listening socket whose accepted connections go straight to a callback.

``loop.create_server`` makes a transport for every connection; a TLS connection that
OpenSSL handshakes on its own socket (``tlstransport``) has no use for one, and building
and dropping it cost each handshake a few per cent. Here the loop only watches the
listening socket; each accepted socket, non-blocking with Nagle off (as asyncio sets
it), is handed to ``on_accept``. At most ``burst`` connections are taken at one
wake-up while the kernel queues ``backlog`` (see ``gate``). Accept errors are handled as
asyncio handles them: out of descriptors or memory pauses accepting for a second instead
of spinning, and is reported to the loop's exception handler in asyncio's own words
(``gate.quiet_accept_errors`` makes that one line every few seconds).
"""
from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import Callable
from typing import Any

from xsp.listener.gate import ACCEPT_BURST, ACCEPT_FAILED

# asyncio's own pause after running out of descriptors (base_events.ACCEPT_RETRY_DELAY).
ACCEPT_RETRY_DELAY = 1.0
_RESOURCE_ERRORS = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}


class AcceptServer(asyncio.AbstractServer):
    """Serves from ``start`` until ``close``; connections already handed over carry on."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sock: socket.socket, burst: int,
                 on_accept: Callable[[socket.socket, Any], None]) -> None:
        self._loop = loop
        self._sock: socket.socket | None = sock
        self._burst = burst
        self._on_accept = on_accept
        self._retry: asyncio.TimerHandle | None = None
        self._sockets = (sock,)

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        return self._sockets if self._sock is not None else ()

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def is_serving(self) -> bool:
        return self._sock is not None

    async def start_serving(self) -> None:
        pass  # serving from construction, like create_server's default

    async def serve_forever(self) -> None:
        raise NotImplementedError("serve_forever: use close() to stop an AcceptServer")

    async def wait_closed(self) -> None:
        pass  # nothing of ours outlives close()

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is None:
            return
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        else:
            self._loop.remove_reader(sock.fileno())
        sock.close()

    def _watch(self) -> None:
        self._retry = None
        if self._sock is not None:
            self._loop.add_reader(self._sock.fileno(), self._accept)

    def _accept(self) -> None:
        listening = self._sock
        assert listening is not None
        for _ in range(self._burst):
            try:
                conn, peer = listening.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return
            except OSError as exc:
                if exc.errno not in _RESOURCE_ERRORS:
                    raise
                self._loop.call_exception_handler({
                    "message": ACCEPT_FAILED,
                    "exception": exc, "socket": listening})
                self._loop.remove_reader(listening.fileno())
                self._retry = self._loop.call_later(ACCEPT_RETRY_DELAY, self._watch)
                return
            conn.setblocking(False)
            try:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass  # the peer may already be gone; the connection finds out itself
            self._on_accept(conn, peer)
            if self._sock is None:
                return  # the callback closed the server


async def serve(host: str, port: int, on_accept: Callable[[socket.socket, Any], None], *,
                backlog: int, burst: int = ACCEPT_BURST,
                reuse_address: bool = True) -> AcceptServer:
    """Listen on ``host``:``port`` (an address, as every listener here is given)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        if reuse_address:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            # The words asyncio's create_server uses, which callers already show.
            raise OSError(exc.errno, f"error while attempting to bind on address "
                                     f"{address!r}: {exc.strerror.lower() if exc.strerror else exc}"
                          ) from None
        sock.listen(backlog)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    server = AcceptServer(loop, sock, burst, on_accept)
    server._watch()
    return server

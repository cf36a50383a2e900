"""``TLSSite``: an aiohttp site whose TLS handshakes are ours (see ``tlstransport``).

Like aiohttp's ``TCPSite`` it only owns the listening socket: stopping it closes that
socket and refuses handshakes still in progress, while established connections carry
on until they end or the runner's cleanup closes them. A listener whose TLS settings
change is a ``stop()`` of this site and a ``start()`` of a new one built with the fresh
``SSLContext``; the application and its runner keep running throughout.
"""
from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Callable
from typing import Any

from aiohttp import web
from yarl import URL

from xsp.listener import refusal as refusals
from xsp.listener import tlsserver
from xsp.listener.refusal import Refusal
from xsp.listener.tlstransport import TLSServerProtocol
from xsp.live.observer import Admitted, admitted_by

# Connections the kernel queues before they are accepted. aiohttp's 128 drops part of a
# burst (clients reconnecting after a failover): a dropped connection's client believes
# it is connected, and one that waits for the server first never learns otherwise. The
# kernel caps this at net.core.somaxconn.
DEFAULT_BACKLOG = 1024


class TLSSite(web.BaseSite):
    def __init__(self, runner: web.BaseRunner, host: str, port: int,
                 ssl_context: ssl.SSLContext | None, *, label: str,
                 on_refusal: Callable[[Refusal], None] | None = None,
                 on_admitted: Callable[[Admitted], None] | None = None,
                 handshake_timeout: float = 10.0, backlog: int = DEFAULT_BACKLOG,
                 reuse_address: bool = True) -> None:
        """``ssl_context`` None serves plain TCP (BroadWorks ``Secure false``).

        ``label`` names the listener in refusals and the log, e.g.
        ``"10.155.6.175:8012 (bound 127.0.0.1:8012)"``. ``on_refusal`` is called once
        per refused connection, after the refusal has been logged; ``on_admitted`` once
        per completed handshake.
        """
        super().__init__(runner, ssl_context=ssl_context, backlog=backlog)
        if handshake_timeout <= 0:
            raise ValueError("handshake_timeout must be positive")
        self._host = host
        self._port = port
        self._label = label
        self._on_refusal = on_refusal
        self._on_admitted = on_admitted
        self._handshake_timeout = handshake_timeout
        self._reuse_address = reuse_address
        self._bound: tuple[str, int] | None = None
        self._handshaking: set[TLSServerProtocol] = set()

    @property
    def name(self) -> str:
        scheme = "https" if self._ssl_context is not None else "http"
        host, port = self._bound or (self._host, self._port)
        return str(URL.build(scheme=scheme, host=host, port=port))

    @property
    def label(self) -> str:
        return self._label

    @property
    def bound(self) -> tuple[str, int]:
        """The address actually listened on (the real port when 0 was asked for)."""
        if self._bound is None:
            raise RuntimeError(f"{self._label} is not listening")
        return self._bound

    @property
    def handshakes_in_progress(self) -> int:
        return len(self._handshaking)

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        server = self._runner.server
        assert server is not None  # BaseSite.__init__ insisted on runner.setup()
        try:
            if self._ssl_context is None:
                self._server = await loop.create_server(
                    server, self._host, self._port, backlog=self._backlog,
                    reuse_address=self._reuse_address)
            else:
                self._server = await tlsserver.serve(
                    self._host, self._port, self._accepted, backlog=self._backlog,
                    reuse_address=self._reuse_address)
        except BaseException:
            # A port in use must leave the runner as it was, so a retry can register.
            self._runner._unreg_site(self)
            raise
        sockname = self._server.sockets[0].getsockname()
        self._bound = (str(sockname[0]), int(sockname[1]))

    async def stop(self) -> None:
        await super().stop()
        self._bound = None
        for protocol in list(self._handshaking):
            protocol.abandon("listener stopped before the handshake completed")
        self._handshaking.clear()

    def _accepted(self, sock: socket.socket, peer: Any) -> None:
        assert self._ssl_context is not None and self._runner.server is not None
        connection = TLSServerProtocol(
            self._runner.server, self._ssl_context, label=self._label,
            refused=self._refused, handshake_timeout=self._handshake_timeout,
            handshake_over=self._handshake_over)
        self._handshaking.add(connection)
        connection.accepted(sock, peer)

    def _handshake_over(self, protocol: TLSServerProtocol) -> None:
        self._handshaking.discard(protocol)
        if self._on_admitted is not None:
            admitted_by(protocol, self._label, self._on_admitted)

    def _refused(self, refusal: Refusal) -> None:
        refusals.report(refusal, self._on_refusal)

"""``TLSSite``: an aiohttp site whose TLS handshakes are ours (see ``tlstransport``).

Like aiohttp's ``TCPSite`` it only owns the listening socket: stopping it closes that
socket and refuses handshakes still in progress, while established connections carry
on until they end or the runner's cleanup closes them. A listener whose TLS settings
change is a ``stop()`` of this site and a ``start()`` of a new one built with the fresh
``SSLContext``; the application and its runner keep running throughout.
"""
from __future__ import annotations

import ssl
from collections.abc import Callable

from aiohttp import web
from yarl import URL

from xsp.listener.gate import ConnectionGate
from xsp.listener.handshakes import Listening, handshakes_for, serve
from xsp.listener.refusal import Refusal
from xsp.live.observer import Admitted

# Connections the kernel queues before they are accepted. aiohttp's 128 drops part of a
# burst (clients reconnecting after a failover): a dropped connection's client believes
# it is connected, and one that waits for the server first never learns otherwise. The
# kernel caps this at net.core.somaxconn.
DEFAULT_BACKLOG = 1024


class TLSSite(Listening, web.BaseSite):
    def __init__(self, runner: web.BaseRunner, host: str, port: int,
                 ssl_context: ssl.SSLContext | None, *, label: str,
                 on_refusal: Callable[[Refusal], None] | None = None,
                 on_admitted: Callable[[Admitted], None] | None = None,
                 handshake_timeout: float = 10.0, backlog: int = DEFAULT_BACKLOG,
                 reuse_address: bool = True, gate: ConnectionGate | None = None,
                 write_timeout: float | None = None) -> None:
        """``ssl_context`` None serves plain TCP (BroadWorks ``Secure false``).

        ``label`` names the listener in refusals and the log, e.g.
        ``"10.155.6.175:8012 (bound 127.0.0.1:8012)"``. ``on_refusal`` is called once
        per refused connection, after the refusal has been logged; ``on_admitted`` once
        per completed handshake. ``gate`` counts the connections against the node's
        limit; ``write_timeout`` closes a TLS connection whose client leaves what is
        written to it unread for that long.
        """
        super().__init__(runner, ssl_context=ssl_context, backlog=backlog)
        self._host = host
        self._port = port
        self._label = label
        self._reuse_address = reuse_address
        self._gate = gate
        self._write_timeout = write_timeout
        self._bound: tuple[str, int] | None = None
        self._on_refusal = on_refusal
        self._handshakes = handshakes_for(ssl_context, label=label, timeout=handshake_timeout,
                                          on_refusal=self._notify, on_admitted=on_admitted,
                                          gate=gate, write_timeout=write_timeout)

    @property
    def name(self) -> str:
        scheme = "https" if self._ssl_context is not None else "http"
        host, port = self._bound or (self._host, self._port)
        return str(URL.build(scheme=scheme, host=host, port=port))

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None  # BaseSite.__init__ insisted on runner.setup()
        try:
            self._server = await serve(server, self._handshakes, self._host, self._port,
                                       gate=self._gate, label=self._label,
                                       backlog=self._backlog,
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
        if self._handshakes is not None:
            self._handshakes.abandon()

    def _notify(self, refusal: Refusal) -> None:
        # Looked up at each refusal, so the callback can be replaced on a running site.
        if self._on_refusal is not None:
            self._on_refusal(refusal)

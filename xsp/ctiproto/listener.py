"""A CTI interface listener: the TLS listener's handshakes, then ``CTIConnection``.

The TLS side is the same as every listener's (``TLSServerProtocol``: the refusal alerts
and log lines); once a handshake succeeds the connection speaks the CTI interface
protocol. Like ``TLSSite`` it can be stopped (no new connections) while established
connections carry on; ``end_connections`` then ends their channels with a
``ChannelTerminatedEvent`` and closes them, as a restart or shutdown does.
"""
from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable

from xsp.cti.auth import Authorizer
from xsp.cti.hub import EventHub, Termination
from xsp.cti.operations import Operations
from xsp.ctiproto.codec import MAX_DOCUMENT
from xsp.ctiproto.connection import IDLE_TIMEOUT, CTIConnection
from xsp.listener.gate import ConnectionGate
from xsp.listener.handshakes import Listening, handshakes_for, serve
from xsp.listener.refusal import Refusal
from xsp.listener.tlsserver import AcceptServer
from xsp.live.observer import Admitted

DEFAULT_BACKLOG = 1024


class CTIListener(Listening):
    def __init__(self, hub: EventHub, authorizer: Authorizer, host: str, port: int,
                 ssl_context: ssl.SSLContext | None, *, label: str,
                 on_refusal: Callable[[Refusal], None] | None = None,
                 on_admitted: Callable[[Admitted], None] | None = None,
                 handshake_timeout: float = 10.0, idle_timeout: float = IDLE_TIMEOUT,
                 max_document: int = MAX_DOCUMENT, backlog: int = DEFAULT_BACKLOG,
                 gate: ConnectionGate | None = None,
                 write_timeout: float | None = None) -> None:
        """``ssl_context`` None serves plain TCP (BroadWorks ``Secure false``). ``gate``
        counts the connections against the node's limits; ``write_timeout`` closes a
        TLS connection whose client leaves what is written to it unread for that long."""
        self.hub = hub
        self.authorizer = authorizer
        self.operations = Operations(hub, transport="cti", opens_channels=True)
        self.connections: set[CTIConnection] = set()
        self._host = host
        self._port = port
        self._label = label
        self._idle_timeout = idle_timeout
        self._max_document = max_document
        self._backlog = backlog
        self._gate = gate
        self._server: asyncio.Server | AcceptServer | None = None
        self._bound: tuple[str, int] | None = None
        self._handshakes = handshakes_for(ssl_context, label=label, timeout=handshake_timeout,
                                          on_refusal=on_refusal, on_admitted=on_admitted,
                                          gate=gate, write_timeout=write_timeout)

    async def start(self) -> None:
        self._server = await serve(self._connection, self._handshakes, self._host, self._port,
                                   gate=self._gate, label=self._label, backlog=self._backlog)
        sockname = self._server.sockets[0].getsockname()
        self._bound = (str(sockname[0]), int(sockname[1]))

    async def stop(self) -> None:
        """Accept no more connections; those established carry on."""
        if self._server is not None:
            self._server.close()
            self._server = None
        self._bound = None
        if self._handshakes is not None:
            self._handshakes.abandon()

    async def end_connections(self, reason: Termination) -> None:
        """End every connection's channels with ``reason``, then close the connections."""
        connections = list(self.connections)
        if connections:
            await asyncio.gather(*(c.end(reason, self.hub.drain_timeout) for c in connections))
            waiters = [asyncio.ensure_future(c.wait_closed()) for c in connections]
            _, late = await asyncio.wait(waiters, timeout=self.hub.drain_timeout)
            for waiter in late:
                waiter.cancel()

    def _connection(self) -> CTIConnection:
        return CTIConnection(self.hub, self.authorizer, self.operations, label=self._label,
                             registry=self.connections, max_document=self._max_document,
                             idle_timeout=self._idle_timeout)

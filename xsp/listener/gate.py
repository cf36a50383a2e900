"""How many connections a node process holds at once, across all its listeners.

Every connection is a file descriptor. Without a cap one client could take them all:
the node could then not accept on its control socket (``emu status`` said it was not
running) nor open a state file, and asyncio logged a traceback for every failed accept.
A ``ConnectionGate`` counts the connections of every listener of the node, from the
moment they are accepted (the TLS handshake included) until they close. Past its
limit a new connection is closed at once, with one log line (rate-limited). The limit
is the ``connections`` emulator setting, lowered to what the process's descriptor
limit leaves after ``FD_RESERVE`` descriptors kept for everything else. Once a TLS
handshake tells who the client is (its certificate's CN; the address of a client
without one), the gate also counts that client's connections against
``connections_per_client``, so that one client cannot take every connection from the
others; one over it is closed right after the handshake.

Python 3.11's accept loop takes the listen backlog as the number of connections to
accept at one wake-up, and on EMFILE it neither stops that loop nor schedules one retry:
each of the remaining iterations fails, reports and schedules its own retry, so a full
process spins and logs a traceback per try (250 MB a minute). So a listener accepts
``ACCEPT_BURST`` connections at a wake-up, well within ``FD_RESERVE`` (the kernel still
queues ``backlog`` of them: ``listen``), the gate closes those over its limit
before the next wake-up, and the process does not run out. ``quiet_accept_errors``
makes an accept that fails anyway (another part of the process holding descriptors)
one line every few seconds instead of a traceback per try.
"""
from __future__ import annotations

import asyncio
import logging
import os
import resource
import time
from collections.abc import Callable
from typing import Any

from xsp.listener.refusal import one_line
from xsp.ratelog import RateLimitedLog

log = logging.getLogger("xsp.cti")

# Descriptors kept free for the control socket and its clients, the state's files, the
# log, the listening sockets and what the interpreter itself opens.
FD_RESERVE = 64
ACCEPT_BURST = 16
ACCEPT_FAILED = "socket.accept() out of system resource"
# At the limit, how often the descriptor budget is counted again (the soft limit may have
# been raised since): not on every refused connection.
_RECOUNT = 1.0


def descriptor_budget() -> int:
    """Connections the process can still hold, keeping ``FD_RESERVE`` descriptors free."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 1 << 20
    try:
        in_use = len(os.listdir("/proc/self/fd"))
    except OSError:
        in_use = 0
    return max(soft - in_use - FD_RESERVE, 1)


async def listen(factory: Callable[[], asyncio.BaseProtocol], host: str, port: int, *,
                 gate: ConnectionGate | None, label: str, backlog: int,
                 reuse_address: bool = True) -> asyncio.Server:
    """A listening server whose connections pass ``gate`` (when given), accepting
    ``ACCEPT_BURST`` at a wake-up while the kernel queues ``backlog``: what every
    listener of the node (the Xsi site, the CTI interface) starts with."""
    if gate is not None:
        inner = factory
        factory = lambda: gate.admit(inner, label)  # noqa: E731
    server = await asyncio.get_running_loop().create_server(
        factory, host, port, backlog=ACCEPT_BURST, reuse_address=reuse_address)
    for listening in server.sockets:
        same = listening.dup()  # the same socket: its queue is the one widened
        try:
            same.listen(backlog)
        finally:
            same.close()
    return server


class ConnectionGate:
    def __init__(self, limit: int, per_client: int) -> None:
        self.open = 0
        self.refused = 0
        self.limit = limit
        self.configured = limit
        self.per_client = per_client
        self._counted = 0.0
        self._clients: dict[str, int] = {}
        self._log = RateLimitedLog(log)

    def resize(self, configured: int, per_client: int) -> None:
        """The configured limits, the node's within what the descriptor limit leaves."""
        self.configured = configured
        self.per_client = per_client
        self._recount()

    def _recount(self) -> None:
        self.limit = min(self.configured, self.open + descriptor_budget())
        self._counted = time.monotonic()

    def enter(self, client: str, label: str, peer: str) -> bool:
        """A connection of ``client`` (a CN, or an address) whose handshake succeeded:
        False, with a log line, when that client holds its limit already."""
        held = self._clients.get(client, 0)
        if held >= self.per_client:
            self.refused += 1
            self._log.warning(("client connections", label, client),
                              "CTI %s: refused %s (%s): it holds %d connections, the limit of "
                              "one client (emu limit connectionsPerClient); connection closed",
                              label, peer, one_line(client), held)
            return False
        self._clients[client] = held + 1
        return True

    def leave(self, client: str) -> None:
        held = self._clients.get(client, 0) - 1
        if held > 0:
            self._clients[client] = held
        else:
            self._clients.pop(client, None)

    def admit(self, factory: Callable[[], asyncio.BaseProtocol], label: str) -> asyncio.BaseProtocol:
        """The protocol for a connection just accepted on the listener ``label``."""
        if self._full():
            return _Turned(self, label)
        return _Counted(factory(), self)

    def take(self, label: str, peer: str) -> bool:
        """A socket just accepted on the listener ``label`` by its own accept loop
        (``tlsserver``): True when counted (``release`` it when it closes); False, with
        the log line, when the node holds its limit and the socket must be closed."""
        if self._full():
            self._turned(label, one_line(peer))
            return False
        self.open += 1
        return True

    def release(self) -> None:
        """A connection counted by ``take`` has closed."""
        self.open -= 1

    def _full(self) -> bool:
        if self.open >= self.limit and self.limit < self.configured \
                and time.monotonic() - self._counted >= _RECOUNT:
            self._recount()
        if self.open >= self.limit:
            self.refused += 1
            return True
        return False

    def _closed(self) -> None:
        self.open -= 1

    def _turned(self, label: str, peer: str) -> None:
        self._log.warning(("connections", label),
                          "CTI %s: refused %s: the node holds %d connections, its limit "
                          "(emu limit connections); connection closed", label, peer,
                          self.limit)


class _Counted(asyncio.Protocol):
    """The listener's own protocol, counted until its connection is lost."""

    def __init__(self, inner: asyncio.BaseProtocol, gate: ConnectionGate) -> None:
        self.inner = inner
        self._gate: ConnectionGate | None = gate
        gate.open += 1

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self.inner.data_received(data)  # type: ignore[attr-defined]

    def eof_received(self) -> bool | None:
        result: bool | None = self.inner.eof_received()  # type: ignore[attr-defined]
        return result

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        gate, self._gate = self._gate, None
        if gate is not None:
            gate._closed()
        self.inner.connection_lost(exc)


class _Turned(asyncio.Protocol):
    """A connection over the limit: closed as soon as it is made."""

    def __init__(self, gate: ConnectionGate, label: str) -> None:
        self._gate = gate
        self._label = label

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        who = f"{peer[0]}:{peer[1]}" if peer else "a client"
        self._gate._turned(self._label, one_line(who))
        if isinstance(transport, asyncio.Transport):
            transport.abort()  # the descriptor goes back at once
        else:
            transport.close()


def quiet_accept_errors(loop: asyncio.AbstractEventLoop) -> None:
    """One line every few seconds, not a traceback per try, while accepts fail for want of
    descriptors; every other report goes where it went before."""
    previous = loop.get_exception_handler()
    lines = RateLimitedLog(log)

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        error = context.get("exception")
        if context.get("message") == ACCEPT_FAILED and isinstance(error, OSError):
            soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
            lines.warning("accept", "cannot accept connections: %s (the process may open %d "
                                    "descriptors); trying again each second",
                          error.strerror or error, soft)
            return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)

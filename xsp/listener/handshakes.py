"""The TLS handshakes of one listener, whatever it serves once they succeed.

Each accepted connection gets a ``TLSServerProtocol`` that hands the connection to the
application protocol after its handshake; the handshakes still in progress are kept so
that stopping the listener refuses them, and every refusal is reported once.

A TLS listener accepts through its own accept loop (``tlsserver``): the accepted socket
goes straight to OpenSSL, and the gate counts it from accept to close (``take`` and
``release``) as ``listen`` does for a plain TCP listener's transports.
"""
from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Callable
from typing import Any

from xsp.listener import refusal as refusals
from xsp.listener import tlsserver
from xsp.listener.gate import ACCEPT_BURST, ConnectionGate, listen
from xsp.listener.refusal import Refusal
from xsp.listener.tlstransport import TLSServerProtocol
from xsp.live.observer import Admitted, admitted_by


class Handshakes:
    def __init__(self, context: ssl.SSLContext, *, label: str, timeout: float,
                 on_refusal: Callable[[Refusal], None] | None = None,
                 on_admitted: Callable[[Admitted], None] | None = None,
                 gate: ConnectionGate | None = None,
                 write_timeout: float | None = None) -> None:
        """``on_refusal`` is called once per refused connection, after the refusal has
        been logged; ``on_admitted`` once per completed handshake. ``gate`` counts the
        connections against the node's limits; ``write_timeout`` closes a connection
        whose client leaves what is written to it unread for that long."""
        if timeout <= 0:
            raise ValueError("handshake_timeout must be positive")
        self._context = context
        self._label = label
        self._timeout = timeout
        self._on_refusal = on_refusal
        self._on_admitted = on_admitted
        self._gate = gate
        self._write_timeout = write_timeout
        self._in_progress: set[TLSServerProtocol] = set()

    def __len__(self) -> int:
        return len(self._in_progress)

    def protocol(self, app_factory: Callable[[], asyncio.BaseProtocol]) -> TLSServerProtocol:
        """The raw-connection protocol of one new connection."""
        protocol = TLSServerProtocol(
            app_factory, self._context, label=self._label, refused=self._refused,
            handshake_timeout=self._timeout, handshake_over=self._handshake_over,
            write_timeout=self._write_timeout, gate=self._gate)
        self._in_progress.add(protocol)
        return protocol

    def accept(self, app_factory: Callable[[], asyncio.BaseProtocol], sock: socket.socket,
               peer: Any) -> None:
        """A socket just accepted: counted by the gate (or closed at once past its
        limit), then handshaken."""
        gate = self._gate
        if gate is not None and not gate.take(self._label, _address(peer)):
            sock.close()  # the descriptor goes back at once
            return
        self.protocol(app_factory).accepted(sock, peer, counted=gate is not None)

    def abandon(self) -> None:
        """Refuse every handshake still in progress (the listener is stopping)."""
        for protocol in list(self._in_progress):
            protocol.abandon("listener stopped before the handshake completed")
        self._in_progress.clear()

    def _handshake_over(self, protocol: TLSServerProtocol) -> None:
        self._in_progress.discard(protocol)
        if self._on_admitted is not None:
            admitted_by(protocol, self._label, self._on_admitted)

    def _refused(self, refusal: Refusal) -> None:
        refusals.report(refusal, self._on_refusal)


def handshakes_for(context: ssl.SSLContext | None, *, label: str, timeout: float,
                   on_refusal: Callable[[Refusal], None] | None = None,
                   on_admitted: Callable[[Admitted], None] | None = None,
                   gate: ConnectionGate | None = None,
                   write_timeout: float | None = None) -> Handshakes | None:
    """The handshakes of a listener on ``context``; None for plain TCP (BroadWorks
    ``Secure false``), whose timeout is still checked so a bad one never waits for TLS."""
    if timeout <= 0:
        raise ValueError("handshake_timeout must be positive")
    if context is None:
        return None
    return Handshakes(context, label=label, timeout=timeout, on_refusal=on_refusal,
                      on_admitted=on_admitted, gate=gate, write_timeout=write_timeout)


def _address(peer: Any) -> str:
    return f"{peer[0]}:{peer[1]}" if peer else "a client"


async def serve(app_factory: Callable[[], asyncio.BaseProtocol], handshakes: Handshakes | None,
                host: str, port: int, *, gate: ConnectionGate | None, label: str,
                backlog: int, reuse_address: bool = True,
                ) -> asyncio.Server | tlsserver.AcceptServer:
    """A listener's server: plain TCP (``handshakes`` None) through ``listen``; TLS
    through its own accept loop, each socket handed to ``handshakes``. Either way the
    gate counts connections from accept to close and ``ACCEPT_BURST`` are taken at a
    wake-up while the kernel queues ``backlog``."""
    if handshakes is None:
        return await listen(app_factory, host, port, gate=gate, label=label, backlog=backlog,
                            reuse_address=reuse_address)
    return await tlsserver.serve(
        host, port, lambda sock, peer: handshakes.accept(app_factory, sock, peer),
        backlog=backlog, burst=ACCEPT_BURST, reuse_address=reuse_address)


class Listening:
    """What every listener tells about itself: its label, the address it is bound to,
    and how many handshakes are in progress."""

    _label: str
    _bound: tuple[str, int] | None
    _handshakes: Handshakes | None

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
        return len(self._handshakes) if self._handshakes is not None else 0

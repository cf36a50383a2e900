"""CAPF on TCP 3804: TLS with the node's CAPF certificate, one session machine per connection.

The TLS settings are the cluster's: ``set tls min-version`` (1.2 accepts TLS 1.2 and 1.3,
1.3 only TLS 1.3) and the CUCM 15 suite list for CTIManager and CAPF, planned and
enforced by the same code as the XSP's listeners. No client certificate is asked for:
a client proves itself with its authentication string.
"""
from __future__ import annotations

import asyncio
import logging
import secrets
import socket
import ssl
from typing import Any

from xsp.listener import tlsserver
from xsp.listener.gate import ACCEPT_BURST
from xsp.listener.handshakes import Handshakes
from xsp.cucm.capfserver import CapfAuthority, CapfServerSession
from xsp.tls.context import build_server_context
from xsp.tls.credentials import ServerCredentials
from xsp.tls.suites import SuitePlan, plan

log = logging.getLogger("xsp.cucm")

# CUCM 15, CTIManager and CAPF, FIPS and non-FIPS (the TAPI developer guide's list).
CUCM15_SUITES = (
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_128_CBC_SHA",
)
MIN_VERSION_PROTOCOLS = {"1.0": ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"),
                         "1.1": ("TLSv1.1", "TLSv1.2", "TLSv1.3"),
                         "1.2": ("TLSv1.2", "TLSv1.3"), "1.3": ("TLSv1.3",)}
MAX_CONNECTIONS = 64
# A session that sends nothing for this long is ended (JTAPI retries 30 s apart).
IDLE_TIMEOUT = 30.0
HANDSHAKE_TIMEOUT = 10.0


def tls_plan(min_version: str) -> SuitePlan:
    return plan(MIN_VERSION_PROTOCOLS[min_version], CUCM15_SUITES, "rsa")


def server_context(min_version: str, credentials: ServerCredentials) -> ssl.SSLContext:
    return build_server_context(tls_plan(min_version), credentials, require_client_cert=False)


class _CapfProtocol(asyncio.Protocol):
    """One CAPF session over an established TLS connection."""

    transport: asyncio.Transport

    def __init__(self, service: "CapfService") -> None:
        self.service = service
        self.session = CapfServerSession(secrets.randbits(32), service.authority)
        self._idle: asyncio.TimerHandle | None = None
        self._logged = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername") or ("?", 0)
        self.session.peer = f"{peer[0]}:{peer[1]}"
        self.service.open.add(self)
        transport.write(self.session.start())
        self._arm()

    def _arm(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
        self._idle = asyncio.get_running_loop().call_later(IDLE_TIMEOUT, self._timed_out)

    def _timed_out(self) -> None:
        self.session.connection_lost()
        self.session.outcome = f"{self.session.peer}: no message for {IDLE_TIMEOUT:.0f} s; session ended"
        self._finish()

    def data_received(self, data: bytes) -> None:
        reply = self.session.receive(data)
        if self.session.closed:
            # Logged before the last message goes out, so that whoever reads the
            # END_SESSION can already read why.
            self._log()
        if reply:
            self.transport.write(reply)
        if self.session.closed:
            self.transport.close()
        else:
            self._arm()

    def eof_received(self) -> bool | None:
        self.session.connection_lost()
        self._finish()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._idle is not None:
            self._idle.cancel()
        if not self.session.closed:
            self.session.connection_lost()
            self._log()
        self.service.open.discard(self)

    def _finish(self) -> None:
        self._log()
        self.transport.close()

    def _log(self) -> None:
        if self.session.outcome and not self._logged:
            self._logged = True
            self.service.sessions += 1
            log.info("%s CAPF: %s", self.service.label, self.session.outcome)


class CapfService:
    def __init__(self, authority: CapfAuthority, context: ssl.SSLContext, host: str, port: int,
                 label: str, handshake_timeout: float = HANDSHAKE_TIMEOUT) -> None:
        self.authority = authority
        self.context = context
        self.host = host
        self.port = port
        self.label = label
        self.handshake_timeout = handshake_timeout
        self._server: asyncio.AbstractServer | None = None
        self.open: set[_CapfProtocol] = set()
        self.sessions = 0
        self._handshakes: Handshakes | None = None  # once the port is known

    def _accepted(self, sock: socket.socket, peer: Any) -> None:
        if len(self.open) >= MAX_CONNECTIONS:
            # Refused before TLS: the connection is closed at once, and said so once.
            log.warning("%s CAPF: a connection refused: %d sessions already open",
                        self.label, MAX_CONNECTIONS)
            sock.close()
            return
        assert self._handshakes is not None
        self._handshakes.accept(lambda: _CapfProtocol(self), sock, peer)

    async def start(self) -> None:
        self._server = await tlsserver.serve(self.host, self.port, self._accepted,
                                             backlog=100, burst=ACCEPT_BURST)
        self.port = self._server.sockets[0].getsockname()[1]
        # The XSP listener's TLS layer and accept path: a refused handshake gets its
        # alert and one log line.
        self._handshakes = Handshakes(self.context, label=f"{self.label} CAPF {self.host}:{self.port}",
                                      timeout=self.handshake_timeout)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for protocol in list(self.open):
                protocol.transport.close()
            await self._server.wait_closed()
            self._server = None
        if self._handshakes is not None:
            self._handshakes.abandon()

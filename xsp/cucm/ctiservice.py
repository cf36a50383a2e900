"""CTIManager's two listeners: TCP 2748 without TLS and TCP 2749 with mutual TLS.

2749 presents the node's CallManager certificate and asks every client for a
certificate that the CAPF CA issued; the versions and suites are the cluster's
(``set tls min-version``, the CUCM 15 list), on the XSP listener's TLS layer, so a
refused handshake gets its alert and one log line. Which user may use which port is
decided per login by ``CtiManager``; each refused login gets the CTI error in a
ProviderOpenCompletedEvent and one plain log line.

States of a connection: await-open -> opening (the login runs in a worker thread) ->
open -> closed. Before a provider is open only ProviderOpenRequest and heartbeats
are answered.
"""
from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Callable
from typing import Any, cast

from cryptography import x509

from xsp.cucm.capfservice import tls_plan
from xsp.cucm.ctierrors import CtiCode, CtiRefused
from xsp.cucm.ctimanager import Admitted, Connection, CtiManager, Provider
from xsp.cucm.ctiwire import Decoder, FramingError, Message
from xsp.listener import tlsserver
from xsp.listener.gate import ACCEPT_BURST
from xsp.listener.handshakes import Handshakes
from xsp.listener.refusal import one_line
from xsp.tls.context import build_server_context
from xsp.tls.credentials import ServerCredentials

log = logging.getLogger("xsp.cucm")

MAX_CONNECTIONS = 128  # on each listener
OPEN_TIMEOUT = 30.0  # a connection must open its provider within this
HEARTBEAT_RANGE = (1, 300)
DEFAULT_HEARTBEAT = 60
HANDSHAKE_TIMEOUT = 10.0


def server_context(min_version: str, credentials: ServerCredentials,
                   capf_ca_pem: bytes) -> ssl.SSLContext:
    return build_server_context(tls_plan(min_version), credentials,
                                trust_anchor_pems=[capf_ca_pem], require_client_cert=True)


class _CtiProtocol(asyncio.Protocol):
    transport: asyncio.Transport

    def __init__(self, listener: CtiListener, conn_id: int) -> None:
        self.listener = listener
        self.manager = listener.manager
        self.conn_id = conn_id
        self.decoder = Decoder()
        self.state = "await-open"
        self.connection: Connection | None = None
        self.provider: Provider | None = None
        self.provider_id = 0
        self.login_id = ""
        self.heartbeat = DEFAULT_HEARTBEAT
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None

    # -- transport events --------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's plain TCP transport is not an asyncio.Transport subclass; every
        # transport given here has the stream transport's methods.
        self.transport = cast(asyncio.Transport, transport)
        host, port = (transport.get_extra_info("peername") or ("?", 0))[:2]
        certificate = None
        sslobj = transport.get_extra_info("ssl_object")
        if sslobj is not None:
            der = sslobj.getpeercert(binary_form=True)
            certificate = x509.load_der_x509_certificate(der) if der else None
        self.connection = Connection(self.conn_id, f"{host}:{port}", self.listener.port,
                                     self.listener.tls, certificate)
        self.listener.open.add(self)
        self._arm(OPEN_TIMEOUT, "no ProviderOpenRequest")

    def data_received(self, data: bytes) -> None:
        try:
            messages = self.decoder.feed(data)
        except FramingError as exc:
            self.close(CtiCode.PROTOCOL_ERROR, str(exc))
            return
        for message in messages:
            if self.state == "closed":
                return
            self._handle(message)

    def connection_lost(self, exc: Exception | None) -> None:
        self.state = "closed"
        if self._timer is not None:
            self._timer.cancel()
        if self.provider is not None:
            self.manager.closed(self.provider)
        self.listener.open.discard(self)

    # -- messages ----------------------------------------------------------------------
    def _handle(self, message: Message) -> None:
        assert self.connection is not None
        self.manager.trace.info(self.connection.handler, f"CTI {message.describe()}")
        if message.name == "HeartbeatRequest":
            self._send(Message("HeartbeatResponse", {"seq": message.get("seq", 0)}))
            if self.state == "open":
                self._arm_heartbeat()
        elif message.name == "ProviderOpenRequest" and self.state == "await-open":
            self._provider_open(message)
        elif message.name == "DeviceOpenRequest" and self.state == "open":
            self._device_open(message)
        elif message.name == "ProviderCloseRequest" and self.state == "open":
            self._send(Message("ProviderCloseResponse", {"seq": message.get("seq", 0)}))
            self.close(None, "closed by the application")
        elif message.name == "DeviceOpenRequest":
            self._send(Message("DeviceOpenResponse", {
                "seq": message.get("seq", 0), "result": CtiCode.PROVIDER_NOT_OPEN.code,
                "failureDescription": CtiCode.PROVIDER_NOT_OPEN.text}))
        else:
            self.close(CtiCode.PROTOCOL_ERROR, f"{message.name} not expected while {self.state}")

    def _provider_open(self, request: Message) -> None:
        assert self.connection is not None
        self.state = "opening"
        problem = _malformed(request, {"login": str, "password": str, "seq": int})
        if problem is not None:
            self.close(CtiCode.PROTOCOL_ERROR, problem)
            return
        self.login_id = one_line(str(request.get("login", "")))[:128]
        heartbeat = request.get("heartbeat", DEFAULT_HEARTBEAT)
        if not isinstance(heartbeat, int) or not HEARTBEAT_RANGE[0] <= heartbeat <= HEARTBEAT_RANGE[1]:
            self.close(CtiCode.PROTOCOL_ERROR, f"heartbeat {heartbeat!r} is not {HEARTBEAT_RANGE[0]} to "
                                               f"{HEARTBEAT_RANGE[1]} seconds")
            return
        self.heartbeat = heartbeat
        self.provider_id = self.manager.new_provider_id()
        seq = request.get("seq", 0)
        self.manager.trace.signal(
            "CtiProviderOpenReq", "init_complete_await_provopen", self.connection.handler,
            self.connection.handler, f"Async Response={seq} ProviderName={request.get('provider', '')} "
            f"LoginId={self.login_id} ServerHeartbeat={heartbeat} CMAssignedAppId="
            f"{request.get('applicationID', '')} PluginName={request.get('pluginName', '')} "
            f"LightWeightProviderOpen={request.get('lightWeightProviderOpen', 0)} "
            f"Auth Style={request.get('authType', 0)}")
        response = Message("ProviderOpenResponse", {"seq": seq, "providerId": self.provider_id,
                                                    "FIPMode": 0})
        self.manager.trace.info(self.connection.handler, f"CTI {response.describe()}")
        self._send(response)
        self._task = asyncio.get_running_loop().create_task(self._login(request))

    async def _login(self, request: Message) -> None:
        assert self.connection is not None
        try:
            admitted: Admitted = await asyncio.to_thread(self.manager.check_login, self.connection, request)
            if self.state == "closed":
                return
            self.provider = self.manager.admit(self.provider_id, self.connection, admitted, self.close)
        except CtiRefused as refused:
            # Logged before the event goes out, so whoever reads the event can read why.
            self._refused_log(refused)
            self._completed(refused.code.code, refused.code.text)
            self.close(None, "", send=False)
            return
        except Exception as exc:  # noqa: BLE001 - a broken login must still end the connection
            log.exception("%s CTIManager %s: login of %s failed", self.listener.label, self.listener.where,
                          self.login_id)
            self.close(CtiCode.PROTOCOL_ERROR, f"the login could not be checked: {type(exc).__name__}")
            return
        self.state = "open"
        self._completed(0, "")
        log.info("%s CTIManager %s: provider %d open for %s from %s", self.listener.label,
                 self.listener.where, self.provider_id, self.login_id, self.connection.peer)
        self._arm_heartbeat()

    def _completed(self, reason: int, description: str) -> None:
        assert self.connection is not None
        event = Message("ProviderOpenCompletedEvent", {
            "reason": reason, "failureDescription": description, "providerId": self.provider_id,
            "loginUserName": self.login_id, "daysUntilPasswordExpiry": 4294967295 if reason == 0 else 0})
        self.manager.trace.info(self.connection.handler, f"CTI {event.describe()}")
        self._send(event)

    def _refused_log(self, refused: CtiRefused) -> None:
        self._report("refused", refused.code, refused.detail)

    def _report(self, what: str, code: CtiCode, detail: str) -> None:
        """One log line, and the same refusal on the live page's timeline."""
        assert self.connection is not None
        where = f"{self.listener.label} CTIManager {self.listener.where}"
        line = one_line(f"{where}: {what} {self.connection.peer} (login {self.login_id or '-'}): "
                        f"{code.hex} {detail}")
        log.warning("%s", line)
        self.manager.observe().cti_refused(where, self.connection.peer, self.login_id or "-",
                                           code.hex, code.text, detail, line)

    def _device_open(self, request: Message) -> None:
        assert self.provider is not None
        problem = _malformed(request, {"deviceName": str, "seq": int})
        if problem is not None:
            self.close(CtiCode.PROTOCOL_ERROR, problem)
            return
        try:
            response, event = self.manager.open_device(self.provider, request)
        except CtiRefused as refused:
            self._refused_log(refused)
            self._send(Message("DeviceOpenResponse", {
                "seq": request.get("seq", 0), "result": refused.code.code,
                "deviceName": str(request.get("deviceName", ""))[:64],
                "failureDescription": refused.code.text}))
            return
        self._send(response)
        self._send(event)

    # -- closing -----------------------------------------------------------------------
    def close(self, code: CtiCode | None, detail: str, *, send: bool = True) -> None:
        if self.state == "closed":
            return
        if send and self.connection is not None:
            event = Message("ProviderClosedEvent", {
                "providerId": self.provider_id, "reason": code.code if code else 0,
                "description": code.text if code else detail})
            if code is not None:
                self._report("closed", code, detail)
            self.manager.trace.info(self.connection.handler, f"CTI {event.describe()}")
            self._send(event)
        self.state = "closed"
        if self.provider is not None:
            self.manager.closed(self.provider)
        self.transport.close()

    def _send(self, message: Message) -> None:
        if not self.transport.is_closing():
            self.transport.write(message.encode())

    def _arm(self, seconds: float, why: str) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(
            seconds, lambda: self.close(CtiCode.HEARTBEAT_TIMEOUT, f"{why} within {seconds:.0f} s"))

    def _arm_heartbeat(self) -> None:
        # Two heartbeat intervals without a message: the application is gone.
        self._arm(2 * self.heartbeat, "no message")


# Longest text a field may carry; the framing's body limit bounds the rest.
MAX_FIELD = 256


def _malformed(message: Message, types: dict[str, type]) -> str | None:
    """Why the fields are unusable, or None. Missing fields take their defaults."""
    for name, kind in types.items():
        value = message.get(name)
        if value is None:
            continue
        if not isinstance(value, kind) or isinstance(value, bool):
            return f"{message.name}: {name} is not {'a number' if kind is int else 'text'}"
        if isinstance(value, str) and len(value) > MAX_FIELD:
            return f"{message.name}: {name} is over {MAX_FIELD} characters"
    return None


class CtiListener:
    def __init__(self, manager: CtiManager, host: str, port: int, label: str,
                 context: ssl.SSLContext | None) -> None:
        self.manager = manager
        self.host = host
        self.port = port
        self.label = label
        self.context = context
        self.tls = context is not None
        self.open: set[_CtiProtocol] = set()
        self._server: asyncio.AbstractServer | None = None
        self._count = 0
        self._handshakes: Handshakes | None = None  # with TLS, once the port is known

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    def _factory(self) -> Callable[[], asyncio.Protocol] | None:
        """The protocol factory of a new connection; None, said once, when full."""
        if len(self.open) >= MAX_CONNECTIONS:
            log.warning("%s CTIManager %s: a connection refused: %d connections already open",
                        self.label, self.where, MAX_CONNECTIONS)
            return None
        self._count += 1
        conn_id = self._count * 2 + (1 if self.tls else 0)
        return lambda: _CtiProtocol(self, conn_id)

    def _make_protocol(self) -> asyncio.Protocol:
        factory = self._factory()
        return _Refuse() if factory is None else factory()

    def _accepted(self, sock: socket.socket, peer: Any) -> None:
        factory = self._factory()
        if factory is None:
            sock.close()
            return
        assert self._handshakes is not None
        self._handshakes.accept(factory, sock, peer)

    async def start(self) -> None:
        if self.context is None:
            self._server = await asyncio.get_running_loop().create_server(
                self._make_protocol, self.host, self.port)
        else:
            self._server = await tlsserver.serve(self.host, self.port, self._accepted,
                                                 backlog=100, burst=ACCEPT_BURST)
        self.port = self._server.sockets[0].getsockname()[1]
        if self.context is not None:
            # The XSP listener's TLS layer and accept path: a refused handshake gets its
            # alert and one log line.
            self._handshakes = Handshakes(
                self.context, label=f"{self.label} CTIManager {self.where}",
                timeout=HANDSHAKE_TIMEOUT,
                on_refusal=lambda refusal: self.manager.observe().connection_refused(refusal),
                on_admitted=lambda admitted: self.manager.observe().connection_admitted(admitted))

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for protocol in list(self.open):
                protocol.close(None, "CTIManager stopping")
            await self._server.wait_closed()
            self._server = None
        if self._handshakes is not None:
            self._handshakes.abandon()


class _Refuse(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.close()

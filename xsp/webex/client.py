"""A Webex-like Xsi-Events client: what Webex does against an XSP|ADP CTI interface.

It connects with mutual TLS, opens one or more channels in one channel set, subscribes
users, keeps the connection alive, refreshes what it holds before it expires,
acknowledges every event and, on close, deletes its subscriptions and channels. By
default it speaks the CTI interface protocol on one connection, as Webex does on port
8012 (``transport="cti"``); ``"http"`` (HTTP streaming) and ``"ws"`` (the emulator's
own WebSocket mapping) speak to the XSP's Xsi interface instead::

    context = tls_context("client.crt", "client.key", "ca.pem")
    async with WebexClient("127.0.0.1", 8012, ssl_context=context) as client:
        await client.subscribe("alice@example.com")
        async for event in client.events():
            print(event.sequence_number, event.type, event.summary())

Failures are ``WebexClientError`` whose ``str()`` is one line naming the real reason:
the TLS alert or verification error, or the status and ErrorInfo summary.
"""
from __future__ import annotations

import asyncio
import logging
import math
import re
import ssl
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

import aiohttp
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect

from xsp.cti.documents import HEARTBEAT, NS
from xsp.cti.operations import NO_OPERATION, operation_of
from xsp.cti.paths import ASYNC_ROOT, ROOT
from xsp.ctiproto import messages as cti
from xsp.ctiproto.client import CTIClient
from xsp.ctiproto.codec import FramingError as CTIFramingError
from xsp.webex.framing import DocumentSplitter, FramingError
from xsp.webex.received import (ChannelReply, ErrorReply, Heartbeat, UnexpectedDocument, XsiEvent,
                                event_of, read_document)

log = logging.getLogger("xsp.webex")

TRANSPORTS = ("cti", "http", "ws")
_APPLICATION_VERSION = "2.0"
_MAX_UNACKNOWLEDGED = 10_000
_HEADERS = {"Content-Type": "text/xml; charset=UTF-8"}
_SSL_LOCATION = re.compile(r"\s*\(_ssl\.c:\d+\)$")


class WebexClientError(Exception):
    """A failure of the client, ``str()`` one line."""


class ConnectFailed(WebexClientError):
    pass


class RequestFailed(WebexClientError):
    def __init__(self, what: str, status: int, summary: str, error_code: int | None,
                 via: str = "HTTP") -> None:
        """``via`` names the status: "HTTP" on the Xsi interface, "status" in a CTI
        interface response."""
        super().__init__(f"{what}: {via} {status}: {summary}")
        self.status = status
        self.summary = summary
        self.error_code = error_code


def tls_context(cert: str, key: str, ca: str) -> ssl.SSLContext:
    """A client context: present ``cert``/``key``, trust servers issued under ``ca``.

    The server's name is checked as browsers and Webex do (subjectAltName).
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_verify_locations(cafile=ca)
    except (OSError, ssl.SSLError) as exc:
        raise WebexClientError(f"cannot load CA file {ca}: {_ssl_words(exc)}") from None
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise WebexClientError(f"cannot load certificate {cert} with key {key}: "
                               f"{_ssl_words(exc)}") from None
    return context


def describe_failure(exc: BaseException, where: str) -> str:
    """One line for a failure to reach ``where``, naming the TLS reason when there is one."""
    # aiohttp's wrappers pose as ssl errors themselves; the real one is further down.
    causes = [c for c in _chain(exc) if not isinstance(c, aiohttp.ClientError)]
    for cause in causes:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return (f"TLS handshake with {where} failed: certificate verify failed: "
                    f"{cause.verify_message}")
        if isinstance(cause, ssl.SSLError):
            return f"TLS handshake with {where} failed: {_ssl_words(cause)}"
    for cause in causes:
        if isinstance(cause, ConnectionRefusedError):
            return f"cannot connect to {where}: connection refused"
        if isinstance(cause, ConnectionResetError):
            # TLS 1.3 clients finish their handshake before the server has judged their
            # certificate, so a refusal often arrives as a reset rather than an alert.
            return (f"{where} reset the connection (a TLS 1.3 server refusing the client "
                    "certificate can do this)")
        if isinstance(cause, (asyncio.TimeoutError, TimeoutError)):
            return f"no answer from {where} in time"
        if isinstance(cause, (CTIFramingError, cti.MessageError)):
            return f"{where} does not speak the CTI interface protocol: {cause}"
    return f"connection to {where} failed: {exc or type(exc).__name__}"


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        inner = getattr(current, "certificate_error", None) or getattr(current, "os_error", None)
        current = inner if isinstance(inner, BaseException) and inner not in seen else (
            current.__cause__ or current.__context__)
    return seen


def _ssl_words(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError) and exc.reason:
        detail = _SSL_LOCATION.sub("", str(exc.strerror or exc.args[-1]))
        detail = re.sub(r"^\[SSL: [A-Z0-9_]+\]\s*", "", detail)
        return f"{exc.reason} ({detail})" if detail and detail != exc.reason else exc.reason
    return _SSL_LOCATION.sub("", str(exc))


@dataclass
class _Channel:
    id: str
    expires: int
    refresh_at: float
    response: aiohttp.ClientResponse | None = None
    ws: ClientConnection | None = None
    reader: asyncio.Task[None] | None = None


@dataclass(frozen=True)
class _Ended:
    channel_id: str


@dataclass
class _Subscription:
    id: str
    what: str
    expires: int
    refresh_at: float


class WebexClient:
    def __init__(self, host: str, port: int, *, ssl_context: ssl.SSLContext | None,
                 transport: str = "cti", channel_set_id: str | None = None,
                 application_id: str = "xsp-webex-client", channels: int = 1,
                 expires: int = 3600, heartbeat_interval: float = 15.0,
                 auto_ack: bool = True, server_hostname: str | None = None,
                 request_timeout: float = 10.0) -> None:
        if transport not in TRANSPORTS:
            raise ValueError(f"transport must be one of {', '.join(TRANSPORTS)}")
        if channels < 1:
            raise ValueError("channels must be at least 1")
        self.host = host
        self.port = port
        self.transport = transport
        self.channel_set_id = channel_set_id or f"xsp-webex-{uuid.uuid4().hex[:12]}"
        self.application_id = application_id
        self.expires = expires
        self.heartbeat_interval = heartbeat_interval
        self.auto_ack = auto_ack
        self.request_timeout = request_timeout
        self.heartbeats_received = 0
        self.errors: list[str] = []  # ErrorEvents answering WebSocket messages
        self._ssl = ssl_context
        self._server_hostname = server_hostname
        self._wanted_channels = channels
        self._channels: dict[str, _Channel] = {}
        self._subscriptions: dict[str, _Subscription] = {}
        self._inbox: asyncio.Queue[XsiEvent | _Ended | BaseException] = asyncio.Queue()
        self._live = 0
        self._seen: set[str] = set()
        self._session: aiohttp.ClientSession | None = None
        self._cti: CTIClient | None = None
        self._event_requests: dict[str, str] = {}  # eventID -> requestId of its event message
        self._keeper: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def where(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def channel_ids(self) -> list[str]:
        return list(self._channels)

    def _url(self, path: str, scheme: str = "http") -> str:
        secure = "s" if self._ssl is not None else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}{secure}://{host}:{self.port}{path}"

    # --- life cycle ------------------------------------------------------------------

    async def __aenter__(self) -> WebexClient:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def open(self) -> None:
        try:
            if self.transport == "cti":
                await self._connect_cti()
            else:
                self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(
                    ssl=self._ssl if self._ssl is not None else False))
            for _ in range(self._wanted_channels):
                await self._open_channel()
        except BaseException:
            await self.close()
            raise
        self._keeper = asyncio.ensure_future(self._keep_alive())

    async def close(self) -> None:
        """Delete subscriptions, then channels; never raises (the server may be gone)."""
        if self._closing:
            return
        self._closing = True
        if self._keeper is not None:
            self._keeper.cancel()
        for subscription in list(self._subscriptions.values()):
            await self._quietly(self.unsubscribe(subscription.id))
        for channel_id in list(self._channels):
            await self._quietly(self.delete_channel(channel_id))
        for channel in list(self._channels.values()):
            if channel.reader is not None:
                channel.reader.cancel()
            if channel.response is not None:
                channel.response.close()
        self._channels.clear()
        if self._session is not None:
            await self._session.close()
        if self._cti is not None:
            await self._cti.close()

    async def _quietly(self, step: Any) -> None:
        try:
            await asyncio.wait_for(step, self.request_timeout)
        except (WebexClientError, aiohttp.ClientError, OSError, asyncio.TimeoutError,
                websockets.WebSocketException) as exc:
            log.debug("while closing: %s", exc)

    # --- channels --------------------------------------------------------------------

    def _channel_document(self) -> str:
        return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Channel xmlns="{NS}">'
                f"<channelSetId>{_escape(self.channel_set_id)}</channelSetId>"
                f"<priority>1</priority><weight>50</weight><expires>{self.expires}</expires>"
                f"<applicationId>{_escape(self.application_id)}</applicationId></Channel>")

    async def _open_channel(self) -> _Channel:
        if self.transport == "cti":
            channel = await self._open_cti_channel()
        elif self.transport == "ws":
            channel = await self._open_ws_channel()
        else:
            channel = await self._open_http_channel()
        self._channels[channel.id] = channel
        self._live += 1
        return channel

    async def _open_http_channel(self) -> _Channel:
        assert self._session is not None
        what = "open channel"
        try:
            response = await self._session.post(
                self._url(f"{ASYNC_ROOT}/channel"), data=self._channel_document(),
                headers=_HEADERS, timeout=aiohttp.ClientTimeout(
                    total=None, connect=self.request_timeout, sock_read=None),
                **self._hostname())
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            raise ConnectFailed(describe_failure(exc, self.where)) from None
        if response.status != 200:
            text = await self._read_body(response, what)
            raise _request_failed(what, response.status, text)
        splitter = DocumentSplitter()
        try:
            first, rest = await asyncio.wait_for(self._first_document(response, splitter),
                                                 self.request_timeout)
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            response.close()
            raise ConnectFailed(describe_failure(exc, self.where)) from None
        reply = _expect_channel(first, what)
        channel = _Channel(reply.channel_id, reply.expires, _refresh_time(reply.expires),
                           response=response)
        channel.reader = asyncio.ensure_future(self._read_http(channel, splitter, rest))
        return channel

    async def _first_document(self, response: aiohttp.ClientResponse,
                              splitter: DocumentSplitter) -> tuple[str, list[str]]:
        """The Channel reply, and whatever came after it in the same read."""
        while True:
            data = await response.content.readany()
            if not data:
                raise ConnectFailed(f"{self.where} closed the channel before its Channel reply")
            documents = splitter.feed(data)
            if documents:
                return documents[0], documents[1:]

    async def _read_http(self, channel: _Channel, splitter: DocumentSplitter,
                         already: list[str]) -> None:
        assert channel.response is not None
        try:
            for document in already:
                self._dispatch(channel, document)
            async for data in channel.response.content.iter_any():
                for document in splitter.feed(data):
                    self._dispatch(channel, document)
        except (aiohttp.ClientError, OSError, FramingError, UnexpectedDocument) as exc:
            if not self._closing:
                self._inbox.put_nowait(ConnectFailed(
                    f"channel {channel.id}: {describe_failure(exc, self.where)}"))
        finally:
            self._channel_ended(channel)

    async def _open_ws_channel(self) -> _Channel:
        what = "open WebSocket channel"
        try:
            ws = await ws_connect(self._url(f"{ASYNC_ROOT}/channel", scheme="ws"),
                                  ssl=self._ssl, open_timeout=self.request_timeout,
                                  max_size=1024 * 1024, **self._hostname())
        except websockets.InvalidStatus as exc:
            body = exc.response.body.decode(errors="replace") if exc.response.body else ""
            raise _request_failed(what, exc.response.status_code, body) from None
        except (OSError, asyncio.TimeoutError, websockets.WebSocketException) as exc:
            raise ConnectFailed(describe_failure(exc, self.where)) from None
        try:
            await ws.send(self._channel_document())
            first = await asyncio.wait_for(ws.recv(), self.request_timeout)
        except (OSError, asyncio.TimeoutError, websockets.WebSocketException) as exc:
            await ws.close()
            raise ConnectFailed(describe_failure(exc, self.where)) from None
        text = first if isinstance(first, str) else first.decode()
        received = _parse(text, what)
        if isinstance(received, ErrorReply):
            await ws.close()
            code = ws.close_code or 4400
            raise RequestFailed(what, code - 4000 if code >= 4000 else code,
                                received.summary, received.error_code)
        reply = _expect_channel(text, what)
        channel = _Channel(reply.channel_id, reply.expires, _refresh_time(reply.expires), ws=ws)
        channel.reader = asyncio.ensure_future(self._read_ws(channel))
        return channel

    async def _read_ws(self, channel: _Channel) -> None:
        assert channel.ws is not None
        try:
            async for message in channel.ws:
                self._dispatch(channel, message if isinstance(message, str) else message.decode())
        except (OSError, websockets.WebSocketException, UnexpectedDocument) as exc:
            if not self._closing:
                self._inbox.put_nowait(ConnectFailed(
                    f"channel {channel.id}: {describe_failure(exc, self.where)}"))
        finally:
            self._channel_ended(channel)

    async def _connect_cti(self) -> None:
        self._cti = CTIClient(self._cti_event, self._cti_closed,
                              session_id=f"xsp-webex-{uuid.uuid4().hex[:8]}")
        try:
            await self._cti.connect(self.host, self.port, self._ssl,
                                    server_hostname=self._server_hostname,
                                    timeout=self.request_timeout)
            # The announced period: the server may close after a silence of 1.5 times it.
            await self._cti.keepalive(math.ceil(self.heartbeat_interval), self.request_timeout)
        except (OSError, ssl.SSLError, asyncio.TimeoutError, CTIFramingError,
                cti.MessageError) as exc:
            raise ConnectFailed(describe_failure(exc, self.where)) from None

    async def _open_cti_channel(self) -> _Channel:
        what = "open channel"
        reply = _expect_channel(await self.request("POST", f"{ROOT}/channel",
                                                    self._channel_document(), what=what), what)
        return _Channel(reply.channel_id, reply.expires, _refresh_time(reply.expires))

    async def _cti_request(self, method: str, path: str, body: str | None, what: str) -> str:
        assert self._cti is not None
        operation = operation_of(method, path)
        if operation == NO_OPERATION:
            raise WebexClientError(f"{what}: {method} {path} is not an operation of the CTI "
                                   "interface")
        request = cti.Request(self._cti.next_id(), self._cti.session_id, operation, path,
                              method, _APPLICATION_VERSION, {}, body or "")
        try:
            response = await self._cti.call(request, self.request_timeout)
        except (OSError, ssl.SSLError, asyncio.TimeoutError, CTIFramingError,
                cti.MessageError) as exc:
            raise ConnectFailed(f"{what}: {describe_failure(exc, self.where)}") from None
        if response.status_code != 200:
            raise _request_failed(what, response.status_code, response.document, "status")
        return response.document

    def _cti_event(self, message: cti.Event) -> None:
        try:
            received = event_of(message)
        except UnexpectedDocument as exc:
            log.warning("event %s: %s", message.request_id, exc)
            return
        if not isinstance(received, XsiEvent):
            log.warning("event %s holds no Event document", message.request_id)
            return
        channel = self._channels.get(received.channel_id or "")
        if received.event_id is not None:
            self._event_requests[received.event_id] = message.request_id
            while len(self._event_requests) > _MAX_UNACKNOWLEDGED:
                del self._event_requests[next(iter(self._event_requests))]
        self._inbox.put_nowait(received)
        if received.terminates_channel and channel is not None:
            self._channel_ended(channel)

    def _cti_closed(self, error: BaseException | None) -> None:
        if not self._closing:
            reason = describe_failure(error, self.where) if error is not None else (
                f"{self.where} closed the connection")
            self._inbox.put_nowait(ConnectFailed(f"CTI connection: {reason}"))
        for channel in list(self._channels.values()):
            self._channel_ended(channel)

    def _channel_ended(self, channel: _Channel) -> None:
        # Forgotten at once, so that keep-alive stops heartbeating a channel that is gone.
        if self._channels.get(channel.id) is channel:
            del self._channels[channel.id]
        self._inbox.put_nowait(_Ended(channel.id))

    def _dispatch(self, channel: _Channel, document: str) -> None:
        received = read_document(document)
        if isinstance(received, Heartbeat):
            self.heartbeats_received += 1
        elif isinstance(received, ChannelReply):  # a WebSocket refresh answered
            channel.expires = received.expires
            channel.refresh_at = _refresh_time(received.expires)
        elif isinstance(received, ErrorReply):
            self.errors.append(received.summary)
            log.warning("channel %s: %s", channel.id, received.summary)
        else:
            self._inbox.put_nowait(received)

    # --- requests --------------------------------------------------------------------

    def _hostname(self) -> dict[str, Any]:
        return {"server_hostname": self._server_hostname} if self._server_hostname else {}

    async def request(self, method: str, path: str, body: str | None = None, *,
                      what: str) -> str:
        """One Xsi request on this client's connection pool; the answer body when 200,
        else ``RequestFailed`` with the status and ErrorInfo summary (``what`` names the
        request in that message)."""
        if self._cti is not None:
            return await self._cti_request(method, path, body, what)
        if self._session is None:
            raise WebexClientError(f"{what}: the client is not open")
        try:
            async with self._session.request(
                    method, self._url(path), data=body, headers=_HEADERS,
                    timeout=aiohttp.ClientTimeout(total=self.request_timeout),
                    **self._hostname()) as response:
                text = await response.text()
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            raise ConnectFailed(f"{what}: {describe_failure(exc, self.where)}") from None
        if response.status != 200:
            raise _request_failed(what, response.status, text)
        return text

    async def _read_body(self, response: aiohttp.ClientResponse, what: str) -> str:
        try:
            return await asyncio.wait_for(response.text(), self.request_timeout)
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            raise ConnectFailed(f"{what}: {describe_failure(exc, self.where)}") from None
        finally:
            response.close()

    # --- subscriptions ---------------------------------------------------------------

    async def subscribe(self, user_id: str, event: str = "Advanced Call",
                        expires: int | None = None) -> str:
        return await self._subscribe(f"user/{_path(user_id)}", f"subscribe {user_id}", event,
                                     expires)

    async def subscribe_group(self, enterprise: str, group: str | None = None,
                              event: str = "Advanced Call", expires: int | None = None) -> str:
        path = f"enterprise/{_path(enterprise)}" + (f"/group/{_path(group)}" if group else "")
        return await self._subscribe(path, f"subscribe {path}", event, expires)

    async def _subscribe(self, path: str, what: str, event: str, expires: int | None) -> str:
        document = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Subscription xmlns="{NS}">'
                    f"<event>{_escape(event)}</event><expires>{expires or self.expires}</expires>"
                    f"<channelSetId>{_escape(self.channel_set_id)}</channelSetId>"
                    f"<applicationId>{_escape(self.application_id)}</applicationId>"
                    "</Subscription>")
        text = await self.request("POST", f"{ROOT}/{path}", document, what=what)
        subscription_id, granted = _subscription_reply(text, what)
        self._subscriptions[subscription_id] = _Subscription(subscription_id, what, granted,
                                                             _refresh_time(granted))
        return subscription_id

    async def unsubscribe(self, subscription_id: str) -> None:
        self._subscriptions.pop(subscription_id, None)
        await self.request("DELETE", f"{ROOT}/subscription/{subscription_id}",
                            what=f"delete subscription {subscription_id}")

    async def refresh_subscription(self, subscription_id: str, expires: int | None = None) -> int:
        what = f"refresh subscription {subscription_id}"
        text = await self.request(
            "PUT", f"{ROOT}/subscription/{subscription_id}",
            f'<Subscription xmlns="{NS}"><expires>{expires or self.expires}</expires></Subscription>',
            what=what)
        _, granted = _subscription_reply(text, what)
        if subscription_id in self._subscriptions:
            self._subscriptions[subscription_id].refresh_at = _refresh_time(granted)
        return granted

    # --- channel upkeep --------------------------------------------------------------

    async def heartbeat(self) -> None:
        if self._cti is not None:
            try:
                await self._cti.keepalive(math.ceil(self.heartbeat_interval), self.request_timeout)
            except (OSError, asyncio.TimeoutError) as exc:
                raise ConnectFailed(f"keepalive: {describe_failure(exc, self.where)}") from None
            return
        for channel in list(self._channels.values()):
            if channel.ws is not None:
                await channel.ws.send(HEARTBEAT)
            else:
                await self.request("PUT", f"{ROOT}/channel/{channel.id}/heartbeat",
                                    what=f"heartbeat on channel {channel.id}")

    async def refresh_channel(self, channel_id: str, expires: int | None = None) -> None:
        channel = self._channels[channel_id]
        document = f'<Channel xmlns="{NS}"><expires>{expires or self.expires}</expires></Channel>'
        if channel.ws is not None:
            await channel.ws.send(document)  # answered on the channel, read by _dispatch
            return
        what = f"refresh channel {channel_id}"
        reply = _expect_channel(await self.request("PUT", f"{ROOT}/channel/{channel_id}",
                                                    document, what=what), what)
        channel.expires = reply.expires
        channel.refresh_at = _refresh_time(reply.expires)

    async def delete_channel(self, channel_id: str) -> None:
        """Delete one channel; the server ends its stream and ``events()`` notices."""
        channel = self._channels.get(channel_id)
        if channel is None:
            return  # it ended meanwhile
        if channel.ws is not None:
            await channel.ws.close()
        else:
            await self.request("DELETE", f"{ROOT}/channel/{channel_id}",
                               what=f"delete channel {channel_id}")
            if self._cti is not None:  # no stream to end: the channel is gone now
                self._channel_ended(channel)

    async def audit(self) -> str:
        """The server's view of this client's channel set (the raw document)."""
        return await self.request("GET", f"{ROOT}/channelset/{_path(self.channel_set_id)}",
                                   what=f"audit channel set {self.channel_set_id}")

    async def _keep_alive(self) -> None:
        """Heartbeat every interval; refresh channels and subscriptions at half-life."""
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            try:
                await self.heartbeat()
                now = time.monotonic()
                for channel in list(self._channels.values()):
                    if now >= channel.refresh_at:
                        await self.refresh_channel(channel.id)
                for subscription in list(self._subscriptions.values()):
                    if now >= subscription.refresh_at:
                        await self.refresh_subscription(subscription.id)
            except (WebexClientError, OSError, websockets.WebSocketException) as exc:
                log.warning("keep-alive: %s", exc)

    # --- events ----------------------------------------------------------------------

    async def acknowledge(self, event: XsiEvent, status_code: int = 200,
                          reason: str = "OK") -> None:
        if event.event_id is None:
            return  # a ChannelTerminatedEvent is not acknowledged
        document = (f'<?xml version="1.0" encoding="UTF-8"?>\n<EventResponse xmlns="{NS}">'
                    f"<eventID>{_escape(event.event_id)}</eventID>"
                    f"<statusCode>{status_code}</statusCode><reason>{_escape(reason)}</reason>"
                    "</EventResponse>")
        if self._cti is not None:
            request_id = self._event_requests.pop(event.event_id, None)
            if request_id is not None:
                try:
                    self._cti.acknowledge(request_id, event.event_id, status_code, reason)
                except OSError as exc:
                    raise ConnectFailed(f"acknowledge event {event.event_id}: "
                                        f"{describe_failure(exc, self.where)}") from None
            return
        channel = self._channels.get(event.channel_id or "")
        if channel is not None and channel.ws is not None:
            try:
                await channel.ws.send(document)
                return
            except websockets.ConnectionClosed:
                pass  # the channel is gone: acknowledge over HTTP instead
        await self.request("POST", f"{ROOT}/channel/eventresponse", document,
                            what=f"acknowledge event {event.event_id}")

    async def events(self) -> AsyncIterator[XsiEvent]:
        """Events from every channel, in arrival order, until no channel is left.

        Acknowledged before they are yielded when ``auto_ack``. A redelivered event
        (an eventID seen before) comes again with ``duplicate`` set. A channel's end is
        yielded as a ``ChannelTerminatedEvent`` when the server sent one.
        """
        while self._live > 0:
            item = await self._inbox.get()
            if isinstance(item, BaseException):
                raise item
            if isinstance(item, _Ended):
                self._live -= 1
                continue
            if (event_id := item.event_id) is not None:
                if event_id in self._seen:
                    item = replace(item, duplicate=True)
                self._seen.add(event_id)
                if self.auto_ack:
                    await self.acknowledge(item)
            yield item


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _path(segment: str) -> str:
    return quote(segment, safe="@.+-_~")


def _refresh_time(expires: int) -> float:
    return time.monotonic() + max(1.0, expires / 2)


def _parse(text: str, what: str) -> Any:
    try:
        return read_document(text)
    except UnexpectedDocument as exc:
        raise WebexClientError(f"{what}: unexpected answer: {exc}") from None


def _expect_channel(text: str, what: str) -> ChannelReply:
    received = _parse(text, what)
    if isinstance(received, ErrorReply):
        raise WebexClientError(f"{what}: {received.summary}")
    if not isinstance(received, ChannelReply) or not received.channel_id:
        raise WebexClientError(f"{what}: expected a Channel reply, got {text[:80]!r}")
    return received


def _subscription_reply(text: str, what: str) -> tuple[str, int]:
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise WebexClientError(f"{what}: answer is not XML: {exc}") from None
    found = root.find(f"{{{NS}}}subscriptionId")
    expires = root.find(f"{{{NS}}}expires")
    if found is None or not (found.text or "").strip():
        raise WebexClientError(f"{what}: no subscriptionId in the answer")
    text = (expires.text or "") if expires is not None else ""
    granted = int(text) if text.isdigit() else 0
    return found.text.strip(), granted  # type: ignore[union-attr]


def _request_failed(what: str, status: int, body: str, via: str = "HTTP") -> RequestFailed:
    try:
        received = read_document(body) if body.strip() else None
    except UnexpectedDocument:
        received = None
    if isinstance(received, ErrorReply):
        return RequestFailed(what, status, received.summary, received.error_code, via)
    return RequestFailed(what, status, body.strip()[:200] or "(no ErrorInfo)", None, via)

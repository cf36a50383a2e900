"""One client connection of a CTI interface: requests in, responses and events out.

After the listener's TLS handshake the connection carries XspXMLInterface messages both
ways (``messages``), cut from the stream by ``codec.DocumentReader``:

- ``request``: authorized first (the certificate's CN in ClientIdentity, allowClientApp
  true, read on every request), then run by ``xsp.cti.operations`` with the method, URI,
  path variables and Xsi body it carries; answered by a ``response`` that echoes
  requestId and sessionId. A channel it opens belongs to this connection: its events go
  out here as ``event`` messages, and it ends when the connection does.
- ``eventResponse``: the client acknowledges an event (no answer).
- ``keepalive``: answered with ``keepaliveResponse``; its ``period`` is how long the
  client may stay silent. A connection silent for longer than the period plus half of
  it (the margin MQTT gives its keep-alive) is closed. Before any keepalive, a
  connection without a channel is closed after ``idle_timeout`` of silence.

A document that is not well-formed, or larger than the limit, ends the connection with
one log line: the stream has lost its place, so nothing after it could be trusted.
Anything else that is wrong (an unknown operation, a missing field, a wrong method) is
a ``response`` with its status and an ``ErrorInfo``, and the connection stays.
"""
from __future__ import annotations

import asyncio
import logging
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import cast
from urllib.parse import parse_qsl, quote, urlsplit

from xsp.cti import documents as docs
from xsp.cti.auth import Authorizer, Refusal, peer_certificate, subject_common_name
from xsp.cti.channels import Channel
from xsp.cti.errors import ErrorCode, XsiError
from xsp.cti.hub import EventHub, Termination
from xsp.cti.identity import Client
from xsp.cti.operations import TEMPLATES, Operations, Outcome, failure, reason_phrase, resolve
from xsp.cti.paths import ROOT
from xsp.ctiproto import messages as m
from xsp.ctiproto.codec import MAX_DOCUMENT, DocumentReader, FramingError

log = logging.getLogger("xsp.cti")

IDLE_TIMEOUT = 75.0
KEEPALIVE_MARGIN = 0.5          # a silent connection may last period * (1 + margin)
MAX_PERIOD = 3600               # a longer announced period counts as this (the emulator's)
MAX_CHANNELS = 32               # per connection
_EVENT_RESPONSE = f"{{{docs.NS}}}EventResponse"


class CTIConnection(asyncio.Protocol):
    def __init__(self, hub: EventHub, authorizer: Authorizer, operations: Operations, *,
                 label: str, registry: set[CTIConnection] | None = None,
                 max_document: int = MAX_DOCUMENT, idle_timeout: float = IDLE_TIMEOUT,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.hub = hub
        self.authorizer = authorizer
        self.operations = operations
        self.label = label
        self.channels: dict[str, Channel] = {}
        self.period: int | None = None      # announced by the client's keepalive
        self._registry = registry if registry is not None else set()
        self._reader = DocumentReader(max_document)
        self._idle_timeout = idle_timeout
        self._clock = clock
        self._transport: asyncio.Transport | None = None
        self._peer = "unknown peer"
        self._heard = clock()
        self._timer: asyncio.TimerHandle | None = None
        self._pumps: dict[str, asyncio.Task[None]] = {}
        self._writable = asyncio.Event()
        self._writable.set()
        self._event_number = 0
        self._version = m.VERSION   # the client's, once it has sent a message with one
        self._acknowledger: Client | None = None  # authorized in this turn of the loop
        self._closed = asyncio.Event()

    # --- asyncio protocol ------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's plain TCP transport is not an asyncio.Transport subclass; every
        # transport given here has the stream transport's methods.
        self._transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        if peer:
            host, port = peer[0], peer[1]
            self._peer = f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
        self._registry.add(self)
        self._arm(self._idle_timeout)

    def data_received(self, data: bytes) -> None:
        self._heard = self._clock()
        if not self._reader.in_document and self._reader.error is None:
            # Acknowledgements are most of what a client sends: the plain ones are read
            # without the XML parser (the same messages), the rest as usual.
            acks, data = m.plain_event_responses(data, self._reader.max_document)
            for ack in acks:
                if self._transport is None or self._transport.is_closing():
                    return
                self._version = ack.protocol_version
                self._acknowledge(ack)
            if not data:
                return
        try:
            roots = self._reader.feed(data)
        except FramingError as exc:
            self._malformed(exc)
            return
        for root in roots:
            if self._transport is None or self._transport.is_closing():
                return
            self._on_document(root)
        if self._reader.error is not None:
            self._malformed(self._reader.error)

    def eof_received(self) -> bool:
        try:
            self._reader.feed_eof()
        except FramingError as exc:
            log.info("CTI %s: %s %s", self.label, self._who(), exc)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._registry.discard(self)
        self._transport = None
        self._writable.set()
        for pump in self._pumps.values():
            pump.cancel()
        for channel in list(self.channels.values()):
            self.hub.channel_gone(channel)
        self.channels.clear()
        self._closed.set()

    def pause_writing(self) -> None:
        # A client that does not read must not grow our buffers: its events wait in
        # their channels' outboxes, and its requests in the socket, until it reads.
        self._writable.clear()
        if self._transport is not None:
            self._transport.pause_reading()

    def resume_writing(self) -> None:
        self._writable.set()
        if self._transport is not None and not self._transport.is_closing():
            self._transport.resume_reading()

    # --- what the listener asks ------------------------------------------------------

    async def end(self, reason: Termination, timeout: float = 2.0) -> None:
        """End every channel of the connection with ``ChannelTerminatedEvent``, let
        those go out, then close it."""
        channels = list(self.channels.values())
        for channel in channels:
            self.hub.terminate(channel, reason)
        pumps = [p for p in self._pumps.values() if not p.done()]
        if pumps:
            await asyncio.wait(pumps, timeout=timeout)
        self.close()

    def close(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.close()

    async def wait_closed(self) -> None:
        await self._closed.wait()

    # --- messages in -----------------------------------------------------------------

    def _on_document(self, root: ET.Element) -> None:
        try:
            message = m.parse(root)
        except m.MessageError as exc:
            self._send(m.Response(exc.request_id, exc.session_id, exc.status,
                                  reason_phrase(exc.status),
                                  docs.error_info_document(exc.summary, exc.status * 100 + 1)))
            return
        self._version = message.protocol_version
        if isinstance(message, m.Request):
            self._send(self._answer(message))
        elif isinstance(message, m.Keepalive):
            period = min(message.period, MAX_PERIOD) if message.period is not None else None
            if period is not None and period != self.period:
                self.period = period
                if self._timer is not None:
                    self._timer.cancel()
                self._arm(self.period * (1 + KEEPALIVE_MARGIN))
            self._send(m.KeepaliveResponse(message.request_id, message.protocol_version))
        elif isinstance(message, m.EventResponse):
            self._acknowledge(message)
        else:
            summary = (f"{type(message).__name__[0].lower()}{type(message).__name__[1:]} is "
                       "sent by the server; a client sends request, eventResponse or keepalive")
            self._send(m.Response(message.request_id, "", 400, "Bad Request",
                                  docs.error_info_document(summary, ErrorCode.INVALID_XML)))

    def _answer(self, request: m.Request) -> m.Response:
        try:
            client = self._authorize(request)
            outcome = self._run(client, request)
        except Refusal as refusal:
            outcome = failure(refusal)
        except XsiError as exc:
            outcome = failure(exc)
        if outcome.channel is not None:
            self._bind(outcome.channel)
        return m.Response(request.request_id, request.session_id, outcome.status,
                          outcome.reason, outcome.document, request.protocol_version)

    def _authorize(self, request: m.Request | m.EventResponse) -> Client:
        try:
            return self.authorizer.authorize(self._transport)
        except Refusal as refusal:
            what = (request.operation if isinstance(request, m.Request) else "eventResponse")
            line = (f"CTI {self.label}: refused {refusal.who} from {self._peer}: "
                    f"{refusal.summary} ({what}, status {refusal.status})")
            log.warning("%s", line)
            self.hub.observer.request_refused(self.label, self._peer, refusal.who,
                                              refusal.summary, refusal.status, line)
            raise

    def _run(self, client: Client, request: m.Request) -> Outcome:
        template = TEMPLATES.get(request.operation)
        if template is None:
            raise XsiError(ErrorCode.INVALID_VALUE,
                           f"Unknown operation {request.operation}; known: "
                           + ", ".join(sorted(TEMPLATES)))
        method = (request.method or template[0]).upper()
        uri = request.uri or f"{ROOT}/{template[1]}"
        path, query = _fill(uri, request.params, request.operation)
        route, _ = resolve(method, path)
        if route.operation != request.operation:
            raise XsiError(ErrorCode.INVALID_VALUE,
                           f"{request.operation} is {template[0]} {ROOT}/{template[1]}; "
                           f"{method} {path} is {route.operation}")
        if route.handler == "add_channel" and len(self.channels) >= MAX_CHANNELS:
            raise XsiError(ErrorCode.TOO_MANY_CHANNELS,
                           f"This connection carries {MAX_CHANNELS} channels already, the "
                           "most one connection may; open another connection")
        return self.operations.handle(client, method, path, request.body, query)

    def _acknowledge(self, message: m.EventResponse) -> None:
        try:
            client = self._acknowledger or self._authorize_acknowledgements(message)
            element = message.element
            if element is not None and element.tag == _EVENT_RESPONSE:
                response = docs.event_response(element)  # as read: no second parse
            else:
                response = docs.parse_event_response(message.document)  # says what is wrong
            self.hub.acknowledge(client, response)
        except XsiError as exc:
            log.info("CTI %s: eventResponse %s from %s not taken: %s", self.label,
                     message.request_id, self._who(), exc.summary)

    def _authorize_acknowledgements(self, message: m.EventResponse) -> Client:
        """Who sends ``message``, kept for the acknowledgements that come in the same
        turn of the loop. A client acknowledges each event in a record of its own, and
        one read brings dozens of them: they are authorized once, as one message
        carrying them all would be (what decides can only change between them by a
        store written within the same instant, a race either way). A refusal is not
        kept: each refused acknowledgement is logged, as before."""
        client = self._authorize(message)
        self._acknowledger = client
        asyncio.get_running_loop().call_soon(self._forget_acknowledger)
        return client

    def _forget_acknowledger(self) -> None:
        self._acknowledger = None

    # --- events out ------------------------------------------------------------------

    def _bind(self, channel: Channel) -> None:
        self.channels[channel.id] = channel
        self._pumps[channel.id] = asyncio.ensure_future(self._pump(channel))

    async def _pump(self, channel: Channel) -> None:
        """Write the channel's documents as events until it ends."""
        try:
            # Every document queued when the pump wakes goes out in one write: a burst of
            # events costs one wake-up and one TLS record, not one of each per event.
            async for batch in channel.batches():
                if not self._writable.is_set():
                    await self._writable.wait()
                transport = self._transport
                if transport is None:
                    break
                out = []
                for document in batch:
                    if document == docs.HEARTBEAT:
                        continue  # the connection's keepalive does this on the CTI interface
                    self._event_number += 1
                    out.append(m.render_event(f"e{self._event_number}", document,
                                              self._version))
                if out and not transport.is_closing():
                    transport.write(out[0] if len(out) == 1 else b"".join(out))
        finally:
            channel.finished()
            self.channels.pop(channel.id, None)
            self._pumps.pop(channel.id, None)

    def _send(self, message: m.Message) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(m.render(message))

    # --- silence ---------------------------------------------------------------------

    def _limit(self) -> float | None:
        if self.period is not None:
            return self.period * (1 + KEEPALIVE_MARGIN)
        return None if self.channels else self._idle_timeout

    def _arm(self, delay: float) -> None:
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(max(delay, 0.05), self._check_silence)

    def _check_silence(self) -> None:
        self._timer = None
        if self._transport is None:
            return
        limit = self._limit()
        silent = self._clock() - self._heard
        if limit is None or silent < limit:
            self._arm((limit - silent) if limit is not None else self._idle_timeout)
            return
        if self.period is not None:
            log.warning("CTI %s: %s sent nothing for %.1f s, past its keepalive period of "
                        "%d s (closed after %g s); connection closed", self.label, self._who(),
                        silent, self.period, limit)
        else:
            log.info("CTI %s: %s idle for %.0f s without a channel; connection closed",
                     self.label, self._who(), silent)
        self.close()

    # --- inside ----------------------------------------------------------------------

    def _malformed(self, error: FramingError) -> None:
        log.warning("CTI %s: %s sent an unreadable stream: %s; connection closed", self.label,
                    self._who(), error)
        # Said once more where the client can read it, then the connection closes.
        self._send(m.Response("", "", 400, "Bad Request",
                              docs.error_info_document(f"Unreadable stream: {error}",
                                                       ErrorCode.INVALID_XML)))
        self.close()

    def _who(self) -> str:
        certificate = peer_certificate(self._transport)
        name = subject_common_name(certificate) if certificate else None
        return f"{name} ({self._peer})" if name else self._peer


def _fill(uri: str, params: dict[str, str], operation: str) -> tuple[str, dict[str, str]]:
    """The path of ``uri`` with its ``{variables}`` taken from ``params``, and its query:
    the uri's own, and the params no variable used (GetSubscriptionsRequest's filters)."""
    parts = urlsplit(uri)
    path = parts.path
    unused = dict(params)
    while "{" in path:
        start = path.index("{")
        end = path.find("}", start)
        if end < 0:
            raise XsiError(ErrorCode.INVALID_VALUE, f"{operation}: unbalanced braces in uri {uri}")
        name = path[start + 1:end]
        if not params.get(name):
            raise XsiError(ErrorCode.INVALID_VALUE,
                           f"{operation}: params has no {name} for the uri {uri}")
        path = path[:start] + quote(params[name], safe="@.+-_~") + path[end + 1:]
        unused.pop(name, None)
    query: dict[str, str] = {k: v for k, v in unused.items() if v}
    query.update(parse_qsl(parts.query))
    return path, query

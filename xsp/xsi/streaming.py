"""The two transports of a channel: an HTTP streaming response and a WebSocket.

Both drain the channel's outbox in order and tell the hub when they stop, whatever the
reason, so that a broken connection closes its channel.

HTTP streaming (Xsi-Events v2.0): the response to ``POST .../channel`` is chunked
``text/xml``, one document per chunk, first the ``Channel`` reply. aiohttp does not
cancel a handler when its client goes away, so the writer is ended when its connection
is lost (``_LossWatch``).

WebSocket (the emulator's own mapping of the same channel; Xsi has no WebSocket
binding): ``GET .../channel`` with ``Upgrade: websocket``. Every message is one XML
document in a text frame.

- client -> server, first: the ``Channel`` request document (as the POST body).
  The server answers with the ``Channel`` reply (channelId, expires), then events.
- client -> server, then any of:
  ``EventResponse`` (acknowledge an event; no answer),
  ``<ChannelHeartBeat xmlns=".."/>`` (answered with a ChannelHeartBeat),
  ``<Channel><expires>N</expires></Channel>`` (refresh; answered with the Channel reply).
  Anything else is answered with an ``ErrorEvent`` (the Xsi event a channel sends
  when its client writes something else on it); the channel stays open.
- server -> client: ``xsi:Event`` documents, ``ChannelHeartBeat``, replies, ErrorEvent.
- Closing the WebSocket deletes the channel. The server closes with 1000 after a
  ``ChannelTerminatedEvent`` or when the channel is deleted over HTTP; a refused first
  message is answered with ErrorInfo and a close code of 4000 + the HTTP status the
  same refusal would have had (4400 bad request, 4503 shutting down).
- Acknowledgements, heartbeats and refreshes over HTTP work for WebSocket channels too.
"""
from __future__ import annotations

import asyncio

from aiohttp import WSMsgType, web

from xsp.cti import documents as docs
from xsp.cti.channels import Channel
from xsp.cti.errors import ErrorCode, XsiError
from xsp.cti.hub import EventHub
from xsp.cti.identity import Client

# How often a waiting writer looks at a connection whose transport cannot say when it
# is lost (plain TCP); bounds how long a dead stream keeps its channel there.
CONNECTION_POLL = 0.5
FIRST_MESSAGE_TIMEOUT = 10.0
MAX_MESSAGE = 64 * 1024
CONTENT_TYPE = "text/xml;charset=UTF-8"


async def stream_http(request: web.Request, hub: EventHub, channel: Channel) -> web.StreamResponse:
    response = web.StreamResponse(status=200, headers={"Content-Type": CONTENT_TYPE,
                                                       "Cache-Control": "no-cache"})
    response.enable_chunked_encoding()
    watch = _LossWatch(request)
    try:
        await response.prepare(request)
        async for document in channel.documents():
            await response.write(document.encode())
        if not _connection_lost(request):
            await response.write_eof()
    except ConnectionError:
        pass  # the client went away mid-write: its channel closes below
    except asyncio.CancelledError:
        if not watch.fired:
            raise
        watch.uncancel()  # the connection went while the writer waited: not a cancellation
    finally:
        watch.stop()
        hub.channel_gone(channel)
    return response


class _LossWatch:
    """Ends the writer (by cancelling its task) when its connection is lost.

    aiohttp does not cancel a handler when its client goes away, and an idle writer
    only waits on its channel's outbox. The listener's TLS transport says when it is
    lost (``add_close_callback``), so an idle channel costs nothing until then; another
    transport is looked at every ``CONNECTION_POLL`` seconds from one timer.
    """

    def __init__(self, request: web.Request) -> None:
        self.fired = False
        self._request = request
        self._task = asyncio.current_task()
        self._timer: asyncio.TimerHandle | None = None
        self._stopped = False
        add_close_callback = getattr(request.transport, "add_close_callback", None)
        if add_close_callback is not None:
            add_close_callback(self._lost)
        else:
            self._timer = asyncio.get_running_loop().call_later(CONNECTION_POLL, self._poll)

    def _poll(self) -> None:
        self._timer = None
        if _connection_lost(self._request):
            self._lost()
        elif not self._stopped:
            self._timer = asyncio.get_running_loop().call_later(CONNECTION_POLL, self._poll)

    def _lost(self) -> None:
        if self._stopped or self.fired or self._task is None:
            return
        self.fired = True
        self._task.cancel()

    def uncancel(self) -> None:
        if self._task is not None:
            self._task.uncancel()

    def stop(self) -> None:
        self._stopped = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def _connection_lost(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


async def websocket_channel(request: web.Request, hub: EventHub, client: Client,
                            registry: set[Channel]) -> web.WebSocketResponse:
    """``registry`` holds the channel while it is open (the listener's own channels)."""
    ws = web.WebSocketResponse(max_msg_size=MAX_MESSAGE)
    if not ws.can_prepare(request).ok:
        raise XsiError(ErrorCode.UPGRADE_REQUIRED,
                       "GET on the channel URL opens a WebSocket channel and needs "
                       "'Upgrade: websocket'; POST opens a streaming HTTP channel")
    await ws.prepare(request)
    try:
        first = await ws.receive(timeout=FIRST_MESSAGE_TIMEOUT)
    except asyncio.TimeoutError:
        await _refuse(ws, XsiError(ErrorCode.INVALID_XML,
                                   f"No Channel request within {FIRST_MESSAGE_TIMEOUT:g} s"))
        return ws
    if first.type != WSMsgType.TEXT:
        if first.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
            return ws
        await _refuse(ws, XsiError(ErrorCode.INVALID_XML,
                                   "The first message must be a Channel document in a text frame"))
        return ws
    try:
        channel = hub.open_channel(client, docs.parse_channel_request(first.data), transport="ws")
    except XsiError as exc:
        await _refuse(ws, exc)
        return ws
    writer = asyncio.ensure_future(_write_ws(ws, channel))
    registry.add(channel)
    try:
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                _answer(hub, client, channel, message.data)
            elif message.type == WSMsgType.BINARY:
                channel.send(docs.error_event_document(
                    ErrorCode.INVALID_XML, "Messages must be XML documents in text frames"))
    finally:
        registry.discard(channel)
        writer.cancel()
        hub.channel_gone(channel)
        if not ws.closed:
            await ws.close()
    return ws


def _answer(hub: EventHub, client: Client, channel: Channel, text: str) -> None:
    try:
        element = docs.parse_document(text, ("EventResponse", "ChannelHeartBeat", "Channel"))
        kind = docs.local_name(element)
        if kind == "EventResponse":
            hub.acknowledge(client, docs.event_response(element))
        elif kind == "ChannelHeartBeat":
            hub.heartbeat(client, channel.id)
        else:
            granted = hub.refresh_channel(client, channel.id, docs.int_of(element, "expires"))
            channel.send(docs.channel_document(channel.id, granted))
    except XsiError as exc:
        channel.send(docs.error_event_document(exc.code, exc.summary))


async def _write_ws(ws: web.WebSocketResponse, channel: Channel) -> None:
    try:
        async for document in channel.documents():
            await ws.send_str(document)
        await ws.close(code=1000)
    except ConnectionError:
        pass
    finally:
        channel.finished()


async def _refuse(ws: web.WebSocketResponse, error: XsiError) -> None:
    try:
        await ws.send_str(docs.error_info_document(error.summary, error.code))
        # A close reason is at most 123 bytes.
        await ws.close(code=4000 + error.status, message=error.summary.encode()[:123].decode(errors="ignore").encode())
    except ConnectionError:
        pass

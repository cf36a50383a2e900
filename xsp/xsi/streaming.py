"""The two transports of a channel: an HTTP streaming response and a WebSocket.

Both drain the channel's outbox in order and tell the hub when they stop, whatever the
reason, so that a broken connection closes its channel.

HTTP streaming (Xsi-Events v2.0): the response to ``POST .../channel`` is chunked
``text/xml``, one document per chunk, first the ``Channel`` reply. aiohttp does not
cancel a handler when its client goes away, so the writer also watches the connection
while it waits for the next document.

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

# How often a waiting writer looks at its connection; bounds how long a dead stream
# keeps its channel.
CONNECTION_POLL = 0.5
FIRST_MESSAGE_TIMEOUT = 10.0
MAX_MESSAGE = 64 * 1024
CONTENT_TYPE = "text/xml;charset=UTF-8"


async def stream_http(request: web.Request, hub: EventHub, channel: Channel) -> web.StreamResponse:
    response = web.StreamResponse(status=200, headers={"Content-Type": CONTENT_TYPE,
                                                       "Cache-Control": "no-cache"})
    response.enable_chunked_encoding()
    try:
        await response.prepare(request)
        while (document := await _next_document(request, channel)) is not None:
            await response.write(document.encode())
        if not _connection_lost(request):
            await response.write_eof()
    except ConnectionError:
        pass  # the client went away mid-write: its channel closes below
    finally:
        hub.channel_gone(channel)
    return response


async def _next_document(request: web.Request, channel: Channel) -> str | None:
    """The next document, or None when the channel ended or the connection is gone."""
    getter = channel.next_document()
    try:
        while not getter.done():
            await asyncio.wait({getter}, timeout=CONNECTION_POLL)
            if not getter.done() and _connection_lost(request):
                return None
        return getter.result()
    finally:
        getter.cancel()


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

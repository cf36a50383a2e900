"""The client side of a CTI interface connection, as Webex keeps one to port 8012.

One TLS connection; ``call`` sends a ``request`` and waits for the ``response`` with its
requestId; events come to ``on_event`` as they arrive; ``acknowledge`` answers one with
an ``eventResponse``; ``keepalive`` announces the period the server may expect silence
for. When the connection ends, ``on_closed`` is told why (None for a clean end).
"""
from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from itertools import count

from xsp.ctiproto import messages as m
from xsp.ctiproto.codec import MAX_DOCUMENT, DocumentReader, FramingError

_READ = 64 * 1024


class CTIClient:
    def __init__(self, on_event: Callable[[m.Event], None],
                 on_closed: Callable[[BaseException | None], None], *,
                 session_id: str = "xsp-webex", max_document: int = 4 * MAX_DOCUMENT) -> None:
        self.session_id = session_id
        self._on_event = on_event
        self._on_closed = on_closed
        self._reader_stream: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._documents = DocumentReader(max_document)
        self._numbers = count(1)
        self._waiting: dict[str, asyncio.Future[m.Message]] = {}
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    async def connect(self, host: str, port: int, context: ssl.SSLContext | None, *,
                      server_hostname: str | None = None, timeout: float = 10.0) -> None:
        name = server_hostname if context is not None else None
        self._reader_stream, self._writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=context, limit=_READ, server_hostname=name),
            timeout)
        self._task = asyncio.ensure_future(self._read())

    @property
    def connected(self) -> bool:
        return self._writer is not None and not self._writer.is_closing()

    def next_id(self) -> str:
        return str(next(self._numbers))

    async def call(self, request: m.Request, timeout: float) -> m.Response:
        answer = await self._exchange(request.request_id, request, timeout)
        assert isinstance(answer, m.Response)
        return answer

    async def keepalive(self, period: int, timeout: float) -> None:
        request_id = self.next_id()
        await self._exchange(request_id, m.Keepalive(request_id, period), timeout)

    def acknowledge(self, request_id: str, event_id: str, status_code: int = 200,
                    reason: str = "OK") -> None:
        """Answer the event message ``request_id`` carrying the event ``event_id``."""
        self._write(event_response(request_id, event_id, status_code, reason))

    async def close(self) -> None:
        self._closing = True
        if self._writer is not None:
            self._writer.close()
            try:
                await asyncio.wait_for(self._writer.wait_closed(), 2.0)
            except (OSError, ssl.SSLError, asyncio.TimeoutError):
                pass
        if self._task is not None:
            self._task.cancel()

    # --- inside ----------------------------------------------------------------------

    async def _exchange(self, request_id: str, message: m.Message, timeout: float) -> m.Message:
        future: asyncio.Future[m.Message] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        try:
            self._write(m.render(message))
            return await asyncio.wait_for(future, timeout)
        finally:
            self._waiting.pop(request_id, None)

    def _write(self, data: bytes) -> None:
        if self._writer is None or self._writer.is_closing():
            raise ConnectionResetError("the CTI connection is closed")
        self._writer.write(data)

    async def _read(self) -> None:
        assert self._reader_stream is not None
        error: BaseException | None = None
        try:
            while data := await self._reader_stream.read(_READ):
                for document in self._documents.documents(data):
                    self._dispatch(m.parse(document.root, document.raw))
        except (OSError, ssl.SSLError, FramingError, m.MessageError) as exc:
            error = exc
        except asyncio.CancelledError:
            raise
        finally:
            gone = error or ConnectionResetError("the server closed the connection")
            for future in self._waiting.values():
                if not future.done():
                    future.set_exception(gone)
            if self._writer is not None:
                self._writer.close()
            if not self._closing:
                self._on_closed(error)

    def _dispatch(self, message: m.Message) -> None:
        if isinstance(message, m.Event):
            self._on_event(message)
            return
        future = self._waiting.get(message.request_id)
        if future is not None and not future.done():
            future.set_result(message)


def event_response(request_id: str, event_id: str, status_code: int = 200,
                   reason: str = "OK") -> bytes:
    """The ``eventResponse`` message acknowledging one event."""
    document = (f'<EventResponse xmlns="{m.XSI_NS}"><eventID>{_escape(event_id)}</eventID>'
                f"<statusCode>{status_code}</statusCode><reason>{_escape(reason)}</reason>"
                "</EventResponse>")
    return m.render(m.EventResponse(request_id, document))


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

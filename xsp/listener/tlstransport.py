"""Server-side TLS on a non-blocking ``ssl.SSLSocket`` driven by the event loop.

OpenSSL handshakes directly on the socket: it reads the client's flights and writes the
server's, and on a refusal writes its alert itself before anything is closed (Python
3.11's own asyncio TLS closes without flushing that alert, CPython issue 98078, so a
refused client would see a reset instead of "unknown_ca"). No memory BIO sits between
the socket and OpenSSL, so a handshake costs about what it costs ``openssl s_server``;
the only Python in it is the loop's readiness callbacks and the handshake watch.

Once the handshake is done the application protocol (aiohttp's ``RequestHandler``, the
CTI interface connection) talks to a ``TLSAppTransport`` and never sees the difference
from an asyncio transport: reads are decrypted records, writes are encrypted and sent
at once, what the socket cannot take yet waits in a buffer with asyncio's water marks.

A connection reaches ``TLSServerProtocol`` either as an accepted socket (``accepted``,
the listener's own accept loop, see ``tlsserver``) or as a protocol given to
``loop.create_server`` (``connection_made``: the socket is taken over from the transport
the loop made, which then is dropped).

States of a connection: handshake -> wrapped -> closing, or handshake -> refused
(alert sent, write side shut, reading and discarding until the client goes or a short
linger ends, so that a client still sending does not turn our FIN into a reset that
would destroy the alert before it reads it).
"""
from __future__ import annotations

import asyncio
import enum
import logging
import os
import socket
import ssl
from asyncio import constants, transports, trsock
from collections.abc import Callable
from typing import Any, cast

from xsp.listener import reasons as explain
from xsp.listener import tlswatch, tlswire
from xsp.listener.gate import ConnectionGate
from xsp.listener.refusal import Refusal
from xsp.ratelog import RateLimitedLog

log = logging.getLogger("xsp.cti")
_cut_off = RateLimitedLog(log)

# One SSL_read returns at most a record (16 KiB); asking for more only costs memory.
_READ_SIZE = 64 * 1024
# How long a refused connection may keep sending after the alert before it is closed.
LINGER_SECONDS = 2.0
# How many first bytes are peeked at to tell plain HTTP or garbage from a ClientHello.
_FIRST_BYTES = 16
# asyncio's own defaults for a transport's write buffer.
_HIGH_WATER = 64 * 1024
# Writes smaller than a TLS record wait for the end of the loop's turn, to share one.
_CORK_LIMIT = 16 * 1024


class _State(enum.Enum):
    HANDSHAKE = "handshake"
    WRAPPED = "wrapped"
    REFUSED = "refused"
    CLOSING = "closing"
    CLOSED = "closed"


class TLSAppTransport(transports._FlowControlMixin, asyncio.Transport):
    """The transport the application protocol sees once the handshake succeeded.

    Derived from asyncio's private ``_FlowControlMixin`` for the same reason as asyncio's
    own TLS transport: ``loop.sendfile()`` (aiohttp's ``FileResponse``) only falls back to
    plain writes on a transport of that class. Its water marks are not used: the write
    buffer is the connection's (see ``TLSServerProtocol``), which decides when the
    application pauses and resumes writing.
    """

    # loop.sendfile() may copy through write() on this transport (never os.sendfile).
    _sendfile_compatible = constants._SendfileMode.FALLBACK

    def __init__(self, tls: TLSServerProtocol, protocol: asyncio.BaseProtocol,
                 loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(None, loop)
        # Set by the mixin; declared again because its stubs do not name them.
        self._loop: asyncio.AbstractEventLoop = loop
        self._protocol_paused: bool = False
        self._tls = tls
        self._protocol = protocol

    # -- protocol ----------------------------------------------------------------------
    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._protocol

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol

    # -- information -------------------------------------------------------------------
    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._tls.extra_info(name, default)

    def is_closing(self) -> bool:
        return self._tls.closing

    # -- reading -----------------------------------------------------------------------
    def is_reading(self) -> bool:
        return self._tls.app_reading

    def pause_reading(self) -> None:
        self._tls.pause_app_reading()

    def resume_reading(self) -> None:
        self._tls.resume_app_reading()

    # -- writing -----------------------------------------------------------------------
    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data: expecting a bytes-like instance, got {type(data).__name__}")
        if data:
            self._tls.write_app_data(data)

    def writelines(self, list_of_data: Any) -> None:
        # One SSL_write for the lot: fewer, fuller records than a write per piece.
        self.write(b"".join(list_of_data))

    def can_write_eof(self) -> bool:
        # TLS has no half-close short of close_notify, which ends the connection.
        return False

    def write_eof(self) -> None:
        raise NotImplementedError("TLS does not support half-closing; use close()")

    def get_write_buffer_size(self) -> int:
        return self._tls.write_buffer_size()

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._tls.write_buffer_limits()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._tls.set_write_buffer_limits(high, low)

    # -- closing -----------------------------------------------------------------------
    def add_close_callback(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (from the loop) once the connection is lost, or at once if
        it is already: a writer that only waits for its next document learns it without
        looking."""
        self._tls.add_close_callback(callback)

    def close(self) -> None:
        self._tls.close_app()

    def abort(self) -> None:
        self._tls.abort_app()

    # -- flow control propagated from the raw transport -----------------------------------
    def _pause_protocol(self) -> None:
        if self._protocol_paused:
            return
        self._protocol_paused = True
        self._call_protocol("pause_writing")

    def _resume_protocol(self) -> None:
        if not self._protocol_paused:
            return
        self._protocol_paused = False
        self._call_protocol("resume_writing")

    def _call_protocol(self, method: str) -> None:
        try:
            getattr(self._protocol, method)()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:  # noqa: BLE001 - same policy as asyncio's transports
            self._loop.call_exception_handler({
                "message": f"protocol.{method}() failed", "exception": exc,
                "transport": self, "protocol": self._protocol})


class TLSServerProtocol(asyncio.Protocol):
    """One TLS connection on its socket: handshake, refusal, then record layer.

    OpenSSL's connection is the C object under ``ssl.SSLSocket`` (``_ssl._SSLSocket``,
    made by ``SSLContext._wrap_socket`` as ``SSLSocket`` makes it), used without the
    Python ``SSLSocket`` around it: that class's creation and its per-call wrappers
    were a tenth of a resumed handshake. The application still gets an
    ``ssl.SSLObject`` as ``ssl_object``, a view on the same connection.
    """

    def __init__(self, app_factory: Callable[[], asyncio.BaseProtocol],
                 context: ssl.SSLContext, *, label: str,
                 refused: Callable[[Refusal], None],
                 handshake_timeout: float = 10.0,
                 handshake_over: Callable[[TLSServerProtocol], None] | None = None,
                 write_timeout: float | None = None, gate: ConnectionGate | None = None) -> None:
        """``write_timeout``: how long the connection's write buffer may stay over its
        high water mark (the client reads nothing) before the connection is cut; None,
        never. ``gate`` counts the connections of the client once the handshake names it,
        and the connection itself when it came through ``accepted(counted=True)``."""
        self._app_factory = app_factory
        self._context = context
        self._label = label
        self._refused = refused
        self._handshake_timeout = handshake_timeout
        self._handshake_over = handshake_over
        self._state = _State.HANDSHAKE
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sock: socket.socket | None = None
        self._fd = -1
        self._tls: Any = None  # _ssl._SSLSocket once the first bytes are in
        self._view: ssl.SSLObject | None = None  # what the application sees of ``_tls``
        self._watch = tlswatch.HandshakeWatch()
        self._timer: asyncio.TimerHandle | None = None
        self._peer: tuple[str, int] = ("?", 0)
        self._first_bytes = b""
        self._app: TLSAppTransport | None = None
        self._app_reading_paused = False
        self._eof_delivered = False
        self._reading = False
        self._writing = False  # a writer callback is registered
        self._read_wants_write = False  # OpenSSL must write before it can read on
        # What the socket could not take yet: ``_pending`` is the write OpenSSL has
        # started and must be given again as it was; ``_buffer`` what came after it.
        self._pending: bytes | None = None
        self._buffer = bytearray()
        self._high_water = _HIGH_WATER
        self._low_water = _HIGH_WATER // 4
        self._close_when_flushed = False
        self._resume_handle: asyncio.Handle | None = None
        self._transport_socket: trsock.TransportSocket | None = None
        self._close_callbacks: list[Callable[[], None]] = []
        self._peercert: Any = None
        self._corked: list[bytes] | None = None  # written in this turn of the loop
        self._corked_size = 0
        self._write_timeout = write_timeout
        self._write_deadline: asyncio.TimerHandle | None = None
        self._gate = gate
        self._counted = False  # the gate counts this connection until its socket closes
        self._client: str | None = None  # as the gate counts it, once admitted
        tlswatch.install(context)

    # -- how a connection arrives --------------------------------------------------------
    def accepted(self, sock: socket.socket, peer: Any = None, *, counted: bool = False) -> None:
        """Start on a freshly accepted, non-blocking TCP socket (ours from now on).
        ``counted``: the gate has counted it (``ConnectionGate.take``); it is released
        when the socket closes."""
        self._counted = counted
        self._loop = asyncio.get_running_loop()
        self._sock = sock
        self._fd = sock.fileno()
        if peer is None:
            try:
                peer = sock.getpeername()
            except OSError:
                peer = None
        if peer:
            self._peer = (str(peer[0]), int(peer[1]))
        self._timer = self._loop.call_later(self._handshake_timeout, self._handshake_timed_out)
        # One reader callback for the connection's whole life: it goes by the state.
        self._loop.add_reader(self._fd, self._readable)
        self._reading = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Given to ``loop.create_server``: take the socket over from the loop's transport
        (a duplicate of its descriptor), then drop that transport without a word."""
        sock = transport.get_extra_info("socket")
        peer = transport.get_extra_info("peername")
        duplicate = socket.socket(fileno=os.dup(sock.fileno()))
        duplicate.setblocking(False)
        # Any loop's transport (asyncio's, uvloop's) can be aborted.
        cast(asyncio.Transport, transport).abort()
        self.accepted(duplicate, peer)

    def connection_lost(self, exc: Exception | None) -> None:
        pass  # only the dropped transport of ``connection_made`` calls this

    # -- readiness -----------------------------------------------------------------------
    def _readable(self) -> None:
        state = self._state
        if state is _State.WRAPPED:
            if not self._read_wants_write:  # else the writer callback reads on
                self._deliver()
        elif state is _State.HANDSHAKE:
            if self._tls is None:
                self._first_readable()
            else:
                self._do_handshake()
        elif state is _State.REFUSED:
            self._discard()

    def _resume_reader(self) -> None:
        if not self._reading and self._sock is not None:
            assert self._loop is not None
            self._loop.add_reader(self._fd, self._readable)
            self._reading = True

    def _remove_reader(self) -> None:
        if self._reading:
            self._reading = False
            assert self._loop is not None
            self._loop.remove_reader(self._fd)

    def _add_writer(self, callback: Callable[[], None]) -> None:
        assert self._loop is not None
        self._loop.add_writer(self._fd, callback)
        self._writing = True

    def _remove_writer(self) -> None:
        if self._writing:
            self._writing = False
            assert self._loop is not None
            self._loop.remove_writer(self._fd)

    # -- the handshake -----------------------------------------------------------------
    def _first_readable(self) -> None:
        """Peek at the first bytes (to tell plain HTTP from TLS in a refusal), then let
        OpenSSL have the socket."""
        sock = self._sock
        assert sock is not None
        try:
            first = sock.recv(_FIRST_BYTES, socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            first = b""
        if not first:
            self._finish_handshake_phase()
            log.debug("CTI %s: %s:%s closed before sending anything", self._label, *self._peer)
            self._close_socket()
            return
        self._first_bytes = first
        view = self._view = ssl.SSLObject.__new__(ssl.SSLObject)
        try:
            # The view is the owner: the message callback gets it as its connection.
            self._tls = view._sslobj = self._context._wrap_socket(  # type: ignore[attr-defined]
                sock, True, None, owner=view)
        except OSError as error:
            self._closed_during_handshake(error)
            return
        self._watch = tlswatch.attach(view)
        self._do_handshake()

    def _do_handshake(self) -> None:
        tls = self._tls
        try:
            tls.do_handshake()
        except ssl.SSLWantReadError:
            self._remove_writer()
            return
        except ssl.SSLWantWriteError:
            self._add_writer(self._do_handshake)
            return
        except ssl.SSLError as error:
            reason = explain.explain(error, self._watch, self._context, self._first_bytes)
            if isinstance(error, (ssl.SSLEOFError, ssl.SSLSyscallError)):
                # The client hung up: whatever OpenSSL wrote after that, nobody reads it,
                # and there is nothing to linger for.
                self._refuse(reason, None, linger=False)
                return
            sent = self._watch.last_sent_alert
            self._refuse(reason, tlswire.alert_name(sent) if sent is not None else None)
            return
        except OSError as error:
            self._closed_during_handshake(error)
            return
        self._remove_writer()
        self._finish_handshake_phase()
        self._state = _State.WRAPPED
        if not self._admitted():
            self.close_app()
            return
        assert self._loop is not None
        protocol = self._app_factory()
        self._app = TLSAppTransport(self, protocol, self._loop)
        protocol.connection_made(self._app)
        # Application data that came with the client's Finished may already sit in
        # OpenSSL's buffer, where the socket's readiness no longer shows it.
        if self._state is _State.WRAPPED and tls.pending():
            self._deliver()

    def _admitted(self) -> bool:
        """Whether the client, now named by its certificate, is within its own limit."""
        if self._gate is None:
            return True
        certificate: Any = self._tls.getpeercert()
        names = [value for rdn in (certificate or {}).get("subject", ()) for key, value in rdn
                 if key == "commonName"]
        client = names[-1].lower() if names else f"no certificate, address {self._peer[0]}"
        if not self._gate.enter(client, self._label, f"{self._peer[0]}:{self._peer[1]}"):
            return False
        self._client = client
        return True

    def _closed_during_handshake(self, error: OSError) -> None:
        log.debug("CTI %s: %s:%s: %s", self._label, *self._peer, error)
        self._refuse(explain.closed_during_handshake(self._watch), None, linger=False)

    def _handshake_timed_out(self) -> None:
        self._timer = None
        if self._state is _State.HANDSHAKE:
            self._refuse(f"handshake timed out after {self._handshake_timeout:g} s", None,
                         linger=False)

    def abandon(self, reason: str) -> None:
        """Refuse a connection still in its handshake (the listener is stopping)."""
        if self._state is _State.HANDSHAKE:
            self._refuse(reason, None, linger=False)

    def _refuse(self, reason: str, alert: str | None, *, linger: bool = True) -> None:
        self._finish_handshake_phase()
        self._state = _State.REFUSED
        subject = None
        chain = explain.client_chain(self._watch)
        if chain:
            subject = explain.subject_cn(chain[0])
        self._refused(Refusal(self._peer, self._label, reason, alert, subject))
        self._remove_writer()
        sock = self._sock
        if sock is None:
            return
        if linger:
            # Our FIN goes after the alert; the socket stays open for reading so the
            # client's in-flight bytes are consumed (``_discard``) instead of provoking
            # a reset.
            try:
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                self._close_socket()
                return
            self._resume_reader()
            assert self._loop is not None
            self._timer = self._loop.call_later(LINGER_SECONDS, self._end_linger)
        else:
            self._close_socket()

    def _discard(self) -> None:
        sock = self._sock
        assert sock is not None
        try:
            data = sock.recv(_READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._end_linger()

    def _end_linger(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._close_socket()

    def _finish_handshake_phase(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._view is not None:
            tlswatch.detach(self._view)
        if self._handshake_over is not None:
            callback, self._handshake_over = self._handshake_over, None
            callback(self)

    def _close_socket(self) -> None:
        """Stop watching the socket and close it (the application is told separately)."""
        self._remove_reader()
        self._remove_writer()
        if self._state is not _State.WRAPPED:
            self._state = _State.CLOSED
        self._cancel_write_deadline()
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()
            if self._gate is not None:
                if self._counted:
                    self._gate.release()
                if self._client is not None:
                    self._gate.leave(self._client)
            self._counted, self._client = False, None

    # -- records after the handshake ------------------------------------------------------
    def _deliver(self) -> None:
        """Decrypt what the socket holds and pass it up, until the application pauses
        reading or closes."""
        tls = self._tls
        while self._state is _State.WRAPPED and not self._app_reading_paused:
            try:
                chunk = tls.read(_READ_SIZE)  # b"" after close_notify
            except ssl.SSLWantReadError:
                return
            except ssl.SSLWantWriteError:
                # A TLS 1.3 KeyUpdate answer waits for room in the socket.
                self._read_wants_write = True
                self._add_writer(self._on_writable)
                return
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                chunk = b""  # a bare FIN ends the connection as close_notify does
            except ssl.SSLError as error:
                self._fail(error)
                return
            except OSError as error:
                self._lost(error)
                return
            if not chunk:
                self._peer_finished()
                return
            assert self._app is not None
            self._app.get_protocol().data_received(chunk)  # type: ignore[attr-defined]

    def _peer_finished(self) -> None:
        """The client ended its side (close_notify or FIN)."""
        self._remove_reader()  # a socket at its end is readable for ever
        if self._eof_delivered or self._app is None:
            return
        self._eof_delivered = True
        keep_open = self._app.get_protocol().eof_received()  # type: ignore[attr-defined]
        if not keep_open:
            self.close_app()

    def _fail(self, error: ssl.SSLError) -> None:
        """A TLS error after the handshake: OpenSSL sent its alert; close, tell the app."""
        log.info("CTI %s: TLS error from %s:%s: %s", self._label, *self._peer,
                 error.reason or error)
        self._lost(error)

    def _lost(self, error: Exception | None) -> None:
        """The connection is over: close the socket, then tell the application (from the
        loop, as asyncio's transports do)."""
        if self._state is _State.CLOSED:
            return
        self._state = _State.CLOSING
        self._close_socket()
        self._pending = None
        self._buffer.clear()
        self._corked, self._corked_size = None, 0
        if self._resume_handle is not None:
            self._resume_handle.cancel()
            self._resume_handle = None
        app, self._app = self._app, None
        assert self._loop is not None
        if app is not None:
            self._loop.call_soon(app.get_protocol().connection_lost, error)
        callbacks, self._close_callbacks = self._close_callbacks, []
        for callback in callbacks:
            self._loop.call_soon(callback)

    def add_close_callback(self, callback: Callable[[], None]) -> None:
        if self._state is _State.CLOSED and self._loop is not None:
            self._loop.call_soon(callback)
        else:
            self._close_callbacks.append(callback)

    # -- writing -----------------------------------------------------------------------
    def write_app_data(self, data: bytes | bytearray | memoryview) -> None:
        if self._state is not _State.WRAPPED:
            return  # like asyncio's transports: writes after close are dropped
        if self._pending is not None:
            self._buffer += data
        elif self._corked is None and len(data) >= _CORK_LIMIT:
            self._send(data)
        else:
            # Small writes of one turn of the loop go out together at its end: one TLS
            # record and one send() for a burst of events or a response's head and body.
            if self._corked is None:
                self._corked, self._corked_size = [], 0
                assert self._loop is not None
                self._loop.call_soon(self._uncork)
            self._corked.append(bytes(data))
            self._corked_size += len(data)
            if self._corked_size >= _CORK_LIMIT:
                self._uncork()  # a record's worth: out now, as an uncorked write would
        if self.write_buffer_size() > self._high_water:
            self._pause_app()

    def _uncork(self) -> None:
        corked, self._corked, self._corked_size = self._corked, None, 0
        if not corked or self._state is not _State.WRAPPED:
            return
        self._send(corked[0] if len(corked) == 1 else b"".join(corked))
        if self._pending is None and self.write_buffer_size() <= self._low_water:
            self._resume_app()

    def _send(self, data: bytes | bytearray | memoryview) -> None:
        if self._pending is not None:
            self._buffer += data
            return
        try:
            self._tls.write(data)  # all of it: OpenSSL writes whole or not at all
        except (ssl.SSLWantWriteError, ssl.SSLWantReadError):
            # Part of it may be out; OpenSSL wants the same bytes again.
            self._pending = bytes(data)
            self._add_writer(self._on_writable)
        except ssl.SSLError as error:
            self._fail(error)
        except OSError as error:
            self._lost(error)

    def _on_writable(self) -> None:
        tls = self._tls
        if self._read_wants_write:
            self._read_wants_write = False
            if self._pending is None:
                self._remove_writer()
            self._deliver()
            if self._sock is None:
                return
        while self._pending is not None:
            try:
                tls.write(self._pending)
            except (ssl.SSLWantWriteError, ssl.SSLWantReadError):
                return
            except ssl.SSLError as error:
                self._fail(error)
                return
            except OSError as error:
                self._lost(error)
                return
            if self._buffer:
                self._pending = bytes(self._buffer)
                self._buffer.clear()
            else:
                self._pending = None
        self._remove_writer()
        if self._close_when_flushed:
            self._shutdown()
            return
        if self.write_buffer_size() <= self._low_water:
            self._resume_app()

    def write_buffer_size(self) -> int:
        pending = len(self._pending) if self._pending is not None else 0
        return pending + len(self._buffer) + self._corked_size

    def write_buffer_limits(self) -> tuple[int, int]:
        return (self._low_water, self._high_water)

    def set_write_buffer_limits(self, high: int | None, low: int | None) -> None:
        # asyncio's rules (FlowControlMixin._set_write_buffer_limits).
        if high is None:
            high = _HIGH_WATER if low is None else 4 * low
        if low is None:
            low = high // 4
        if not high >= low >= 0:
            raise ValueError(f"high ({high!r}) must be >= low ({low!r}) must be >= 0")
        self._high_water, self._low_water = high, low
        if self._app is not None:
            if self.write_buffer_size() > high:
                self._pause_app()
            elif self.write_buffer_size() <= low:
                self._resume_app()

    def _pause_app(self) -> None:
        if self._app is None:
            return
        self._app._pause_protocol()
        if (self._write_timeout is not None and self._write_deadline is None
                and self._loop is not None):
            # A client that stops reading must not hold its buffers (and our memory) for
            # ever: past the deadline the connection is cut.
            self._write_deadline = self._loop.call_later(self._write_timeout,
                                                         self._write_stalled)

    def _resume_app(self) -> None:
        self._cancel_write_deadline()
        if self._app is not None:
            self._app._resume_protocol()

    def _cancel_write_deadline(self) -> None:
        if self._write_deadline is not None:
            self._write_deadline.cancel()
            self._write_deadline = None

    def _write_stalled(self) -> None:
        self._write_deadline = None
        if self._sock is None:
            return
        _cut_off.warning(("write timeout", self._label),
                         "CTI %s: %s:%s read nothing of the %d bytes written to it for %g s; "
                         "connection closed", self._label, *self._peer,
                         self.write_buffer_size(), self._write_timeout)
        self._lost(None)

    # -- what TLSAppTransport asks ---------------------------------------------------------
    @property
    def closing(self) -> bool:
        return self._state is not _State.WRAPPED

    @property
    def app_reading(self) -> bool:
        return self._state is _State.WRAPPED and not self._app_reading_paused

    def extra_info(self, name: str, default: Any) -> Any:
        if name == "peername":
            return self._peer
        tls = self._tls
        if tls is None or self._sock is None:
            return default
        if name == "ssl_object":
            return self._view
        if name == "sslcontext":
            return self._context
        if name == "peercert":
            # Decoded once: the peer's certificate cannot change (renegotiation is
            # declined), and an authorizer asks for it on every request.
            if self._peercert is None:
                self._peercert = tls.getpeercert()
            return self._peercert
        if name == "cipher":
            return tls.cipher()
        if name == "compression":
            return tls.compression()
        if name == "socket":
            if self._transport_socket is None:
                self._transport_socket = trsock.TransportSocket(self._sock)
            return self._transport_socket
        if name == "sockname":
            try:
                return self._sock.getsockname()
            except OSError:
                return default
        return default

    def pause_app_reading(self) -> None:
        self._app_reading_paused = True
        self._remove_reader()

    def resume_app_reading(self) -> None:
        if not self._app_reading_paused or self._state is not _State.WRAPPED:
            self._app_reading_paused = False
            return
        self._app_reading_paused = False
        # Records decrypted-but-undelivered may wait in OpenSSL; deliver them first, from
        # the loop (not inside the caller), then watch the socket again.
        if self._resume_handle is None and self._loop is not None:
            self._resume_handle = self._loop.call_soon(self._resume_delivery)

    def _resume_delivery(self) -> None:
        self._resume_handle = None
        if self._state is not _State.WRAPPED or self._app_reading_paused:
            return
        self._deliver()
        if (self._state is _State.WRAPPED and not self._app_reading_paused
                and not self._eof_delivered):
            self._resume_reader()

    def close_app(self) -> None:
        """close_notify once everything written so far is out, then close."""
        if self._state is not _State.WRAPPED:
            return
        self._uncork()
        if self._state is not _State.WRAPPED:
            return  # the last write failed: the connection is gone already
        self._state = _State.CLOSING
        self._remove_reader()
        if self._pending is not None:
            self._close_when_flushed = True
            return
        self._shutdown()

    def _shutdown(self) -> None:
        try:
            self._tls.shutdown()
        except (ssl.SSLError, OSError, ValueError):
            pass  # SSLWantReadError: we do not wait for the peer's close_notify
        self._lost(None)

    def abort_app(self) -> None:
        if self._state is _State.CLOSED:
            return
        self._lost(None)

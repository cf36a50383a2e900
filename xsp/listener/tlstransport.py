"""Server-side TLS over an asyncio TCP connection, with the refusal alert actually sent.

Python 3.11's own asyncio TLS closes the socket on a failed server handshake without
flushing the alert OpenSSL generated (CPython issue 98078), so a refused client sees a
reset instead of "unknown_ca". Here ``TLSServerProtocol`` sits on the raw connection and
drives an ``ssl.SSLObject`` through memory BIOs: every byte OpenSSL produces, the alert
included, is written to the socket before anything is closed. Once the handshake is done
the application protocol (aiohttp's ``RequestHandler``) talks to a ``TLSAppTransport``
and never sees the difference.

States of a connection: handshake -> wrapped -> closing, or handshake -> refused
(alert flushed, write side shut, reading and discarding until the client goes or a short
linger ends, so that a client still sending does not turn our FIN into a reset that
would destroy the alert before it reads it).
"""
from __future__ import annotations

import asyncio
import enum
import logging
import ssl
from asyncio import constants, transports
from collections.abc import Callable
from typing import Any

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
# How many first bytes are kept to tell plain HTTP or garbage from a ClientHello.
_FIRST_BYTES = 16


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
    buffer is the raw socket's (records are encrypted and handed down at once), so the
    limits, the size and pause/resume_writing all come from the raw transport.
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
        return self._tls.raw_write_buffer_size()

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._tls.raw_write_buffer_limits()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._tls.set_raw_write_buffer_limits(high, low)

    # -- closing -----------------------------------------------------------------------
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
    """The raw TCP side of one TLS connection: handshake, refusal, then record layer."""

    def __init__(self, app_factory: Callable[[], asyncio.BaseProtocol],
                 context: ssl.SSLContext, *, label: str,
                 refused: Callable[[Refusal], None],
                 handshake_timeout: float = 10.0,
                 handshake_over: Callable[[TLSServerProtocol], None] | None = None,
                 write_timeout: float | None = None, gate: ConnectionGate | None = None) -> None:
        """``write_timeout``: how long the socket's write buffer may stay over its high
        water mark (the client reads nothing) before the connection is cut; None, never.
        ``gate`` counts the connections of the client once the handshake names it."""
        self._app_factory = app_factory
        self._context = context
        self._label = label
        self._refused = refused
        self._handshake_timeout = handshake_timeout
        self._handshake_over = handshake_over
        self._state = _State.HANDSHAKE
        self._raw: asyncio.Transport | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._sslobj: ssl.SSLObject | None = None
        self._watch = tlswatch.HandshakeWatch()
        self._timer: asyncio.TimerHandle | None = None
        self._peer: tuple[str, int] = ("?", 0)
        self._first_bytes = b""
        self._app: TLSAppTransport | None = None
        self._app_reading_paused = False
        self._raw_writing_paused = False
        self._eof_delivered = False
        self._close_error: Exception | None = None
        self._resume_handle: asyncio.Handle | None = None
        self._write_timeout = write_timeout
        self._write_deadline: asyncio.TimerHandle | None = None
        self._gate = gate
        self._client: str | None = None  # as the gate counts it, once admitted
        tlswatch.install(context)

    # -- raw transport callbacks ---------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._raw = transport
        self._loop = asyncio.get_running_loop()
        peer = transport.get_extra_info("peername")
        if peer:
            self._peer = (str(peer[0]), int(peer[1]))
        self._sslobj = self._context.wrap_bio(self._incoming, self._outgoing, server_side=True)
        self._watch = tlswatch.attach(self._sslobj)
        self._timer = self._loop.call_later(self._handshake_timeout, self._handshake_timed_out)

    def data_received(self, data: bytes) -> None:
        if self._state is _State.HANDSHAKE:
            if len(self._first_bytes) < _FIRST_BYTES:
                self._first_bytes += data[:_FIRST_BYTES - len(self._first_bytes)]
            self._incoming.write(data)
            self._do_handshake()
        elif self._state is _State.WRAPPED:
            self._incoming.write(data)
            self._deliver()
        # REFUSED, CLOSING: nothing more is read on behalf of anyone; drop it.

    def eof_received(self) -> bool | None:
        if self._state is _State.HANDSHAKE:
            if self._first_bytes:
                self._refuse(explain.closed_during_handshake(self._watch), None, linger=False)
            else:
                self._finish_handshake_phase()
                self._state = _State.CLOSING
                log.debug("CTI %s: %s:%s closed before sending anything",
                          self._label, *self._peer)
            return False
        if self._state is _State.WRAPPED:
            # A TCP FIN without close_notify: the peer is gone; let the application know
            # and finish the way it chooses (aiohttp closes).
            return self._peer_finished()
        return False

    def pause_writing(self) -> None:
        self._raw_writing_paused = True
        if self._write_timeout is not None and self._loop is not None:
            # A client that stops reading must not hold its buffers (and our memory) for
            # ever: past the deadline the connection is cut.
            self._write_deadline = self._loop.call_later(self._write_timeout, self._write_stalled)
        if self._app is not None:
            self._app._pause_protocol()

    def resume_writing(self) -> None:
        self._raw_writing_paused = False
        self._cancel_write_deadline()
        if self._app is not None:
            self._app._resume_protocol()

    def _cancel_write_deadline(self) -> None:
        if self._write_deadline is not None:
            self._write_deadline.cancel()
            self._write_deadline = None

    def _write_stalled(self) -> None:
        self._write_deadline = None
        if self._raw is None:
            return
        _cut_off.warning(("write timeout", self._label),
                         "CTI %s: %s:%s read nothing of the %d bytes written to it for %g s; "
                         "connection closed", self._label, *self._peer,
                         self._raw.get_write_buffer_size(), self._write_timeout)
        self._state = _State.CLOSING
        self._raw.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._state is _State.HANDSHAKE and self._first_bytes:
            self._refuse(explain.closed_during_handshake(self._watch), None, close=False)
        self._finish_handshake_phase()
        self._cancel_write_deadline()
        if self._gate is not None and self._client is not None:
            self._gate.leave(self._client)
            self._client = None
        self._state = _State.CLOSED
        if self._resume_handle is not None:
            self._resume_handle.cancel()
        app, self._app = self._app, None
        if app is not None:
            protocol = app.get_protocol()
            protocol.connection_lost(exc if exc is not None else self._close_error)
        self._raw = None

    # -- the handshake -----------------------------------------------------------------
    def _do_handshake(self) -> None:
        assert self._sslobj is not None
        try:
            self._sslobj.do_handshake()
        except ssl.SSLWantReadError:
            self._flush()
            return
        except ssl.SSLError as error:
            sent = self._flush()
            reason = explain.explain(error, self._watch, self._context, self._first_bytes)
            self._refuse(reason, self._alert_sent(sent))
            return
        self._flush()  # the server's last flight and, with TLS 1.3, its session tickets
        self._finish_handshake_phase()
        self._state = _State.WRAPPED
        if not self._admitted():
            self.close_app()
            return
        assert self._loop is not None
        protocol = self._app_factory()
        self._app = TLSAppTransport(self, protocol, self._loop)
        protocol.connection_made(self._app)
        if self._raw_writing_paused and self._app is not None:
            self._app._pause_protocol()
        # Application data that came in the same segment as the client's Finished is
        # already in the incoming BIO: hand it over now, not at the next packet.
        self._deliver()

    def _admitted(self) -> bool:
        if self._gate is None:
            return True
        assert self._sslobj is not None
        certificate: Any = self._sslobj.getpeercert()
        names = [value for rdn in (certificate or {}).get("subject", ()) for key, value in rdn
                 if key == "commonName"]
        client = names[-1].lower() if names else f"no certificate, address {self._peer[0]}"
        if not self._gate.enter(client, self._label, f"{self._peer[0]}:{self._peer[1]}"):
            return False
        self._client = client
        return True

    def _alert_sent(self, sent: bytes) -> str | None:
        """The alert in the bytes just written: read from the record when in clear, from
        the handshake watch when TLS 1.3 encrypted it; None if no alert went out."""
        scan = tlswire.scan_records(sent)
        if scan.plaintext_alert is not None:
            return tlswire.alert_name(scan.plaintext_alert)
        if scan.encrypted_records:
            observed = self._watch.last_sent_alert
            return tlswire.alert_name(observed) if observed is not None else "(encrypted alert)"
        return None

    def _handshake_timed_out(self) -> None:
        self._timer = None
        if self._state is _State.HANDSHAKE:
            self._refuse(f"handshake timed out after {self._handshake_timeout:g} s", None,
                         linger=False)

    def abandon(self, reason: str) -> None:
        """Refuse a connection still in its handshake (the listener is stopping)."""
        if self._state is _State.HANDSHAKE:
            self._refuse(reason, None, linger=False)

    def _refuse(self, reason: str, alert: str | None, *, close: bool = True,
                linger: bool = True) -> None:
        self._finish_handshake_phase()
        self._state = _State.REFUSED
        subject = None
        chain = explain.client_chain(self._watch)
        if chain:
            subject = explain.subject_cn(chain[0])
        self._refused(Refusal(self._peer, self._label, reason, alert, subject))
        if not close or self._raw is None:
            return
        if linger and self._raw.can_write_eof():
            # Our FIN goes after the alert; the socket stays open for reading so the
            # client's in-flight bytes are consumed instead of provoking a reset.
            self._raw.write_eof()
            assert self._loop is not None
            self._timer = self._loop.call_later(LINGER_SECONDS, self._end_linger)
        else:
            self._raw.close()

    def _end_linger(self) -> None:
        self._timer = None
        if self._raw is not None:
            self._raw.close()

    def _finish_handshake_phase(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._sslobj is not None:
            tlswatch.detach(self._sslobj)
        if self._handshake_over is not None:
            callback, self._handshake_over = self._handshake_over, None
            callback(self)

    # -- records after the handshake ------------------------------------------------------
    def _deliver(self) -> None:
        """Decrypt what the incoming BIO holds and pass it up, until the application
        pauses reading or closes."""
        assert self._sslobj is not None
        while self._state is _State.WRAPPED and not self._app_reading_paused:
            try:
                chunk = self._sslobj.read(_READ_SIZE)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:
                chunk = b""
            except ssl.SSLError as error:
                self._flush()
                self._fail(error)
                return
            if not chunk:  # close_notify
                self._flush()
                self._peer_finished()
                return
            assert self._app is not None
            self._app.get_protocol().data_received(chunk)  # type: ignore[attr-defined]
        # Reading may have made OpenSSL answer (a TLS 1.3 KeyUpdate, a refused
        # renegotiation): send that now.
        if self._state in (_State.WRAPPED, _State.CLOSING):
            self._flush()

    def _peer_finished(self) -> bool:
        """The client ended its side (close_notify or FIN); returns keep-open for the raw
        transport's eof_received."""
        if self._eof_delivered or self._app is None:
            return False
        self._eof_delivered = True
        keep_open = self._app.get_protocol().eof_received()  # type: ignore[attr-defined]
        if keep_open:
            return True
        self.close_app()
        return True  # close_app() already closes the raw transport after close_notify

    def _fail(self, error: ssl.SSLError) -> None:
        """A TLS error after the handshake: the alert is out, close and tell the app."""
        log.info("CTI %s: TLS error from %s:%s: %s", self._label, *self._peer,
                 error.reason or error)
        self._close_error = error
        self._state = _State.CLOSING
        if self._raw is not None:
            self._raw.close()

    def _flush(self) -> bytes:
        data = self._outgoing.read()
        if data and self._raw is not None and not self._raw.is_closing():
            self._raw.write(data)
        return data

    # -- what TLSAppTransport asks ---------------------------------------------------------
    @property
    def closing(self) -> bool:
        return self._state is not _State.WRAPPED

    @property
    def app_reading(self) -> bool:
        return self._state is _State.WRAPPED and not self._app_reading_paused

    def extra_info(self, name: str, default: Any) -> Any:
        sslobj = self._sslobj
        if sslobj is not None:
            if name == "ssl_object":
                return sslobj
            if name == "sslcontext":
                return self._context
            if name == "peercert":
                return sslobj.getpeercert()
            if name == "cipher":
                return sslobj.cipher()
            if name == "compression":
                return sslobj.compression()
        if self._raw is None:
            return default
        return self._raw.get_extra_info(name, default)

    def write_app_data(self, data: bytes | bytearray | memoryview) -> None:
        if self._state is not _State.WRAPPED:
            return  # like asyncio's transports: writes after close are dropped
        assert self._sslobj is not None
        view = memoryview(data)
        try:
            while view:
                # A memory BIO never blocks, so SSL_write takes everything at once;
                # the loop only guards against a partial write.
                written = self._sslobj.write(view)
                view = view[written:]
        except ssl.SSLError as error:
            self._flush()
            self._fail(error)
            return
        self._flush()

    def pause_app_reading(self) -> None:
        self._app_reading_paused = True
        if self._raw is not None:
            self._raw.pause_reading()

    def resume_app_reading(self) -> None:
        if not self._app_reading_paused or self._state is not _State.WRAPPED:
            self._app_reading_paused = False
            return
        self._app_reading_paused = False
        # Records decrypted-but-undelivered may wait in the BIO; deliver them first, from
        # the loop (not inside the caller), then let the socket be read again.
        if self._resume_handle is None and self._loop is not None:
            self._resume_handle = self._loop.call_soon(self._resume_delivery)

    def _resume_delivery(self) -> None:
        self._resume_handle = None
        if self._state is not _State.WRAPPED or self._app_reading_paused:
            return
        self._deliver()
        if (self._state is _State.WRAPPED and not self._app_reading_paused
                and self._raw is not None):
            self._raw.resume_reading()

    def raw_write_buffer_size(self) -> int:
        return self._raw.get_write_buffer_size() if self._raw is not None else 0

    def raw_write_buffer_limits(self) -> tuple[int, int]:
        if self._raw is None:
            return (0, 0)
        return self._raw.get_write_buffer_limits()

    def set_raw_write_buffer_limits(self, high: int | None, low: int | None) -> None:
        if self._raw is not None:
            self._raw.set_write_buffer_limits(high, low)

    def close_app(self) -> None:
        """close_notify, then a graceful close that flushes everything written so far."""
        if self._state is not _State.WRAPPED:
            return
        self._state = _State.CLOSING
        assert self._sslobj is not None
        try:
            self._sslobj.unwrap()
        except ssl.SSLError:
            pass  # SSLWantReadError: we do not wait for the peer's close_notify
        self._flush()
        if self._raw is not None:
            self._raw.close()

    def abort_app(self) -> None:
        if self._state is _State.CLOSED:
            return
        self._state = _State.CLOSING
        if self._raw is not None:
            self._raw.abort()

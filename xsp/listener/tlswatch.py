"""Watch the handshake messages and alerts of one server-side TLS connection.

Why a message callback: with TLS 1.3 everything after the ServerHello is encrypted, so
neither the alert the server sends (certificate_required, unknown_ca...) nor the
client's Certificate message can be read from the socket bytes. OpenSSL's message
callback reports them in clear as it reads or writes them. CPython exposes it as the
private ``SSLContext._msg_callback`` (present since 3.8, still in 3.13); if a future
Python drops it, ``install`` returns False and refusals lose only the detail the
callback provided (the name of the alert sent, since OpenSSL writes it to the socket
itself, and the client certificate's names).

The callback is per context and receives the ``SSLSocket`` (or ``SSLObject``) as
``conn``; a watch is attached to the object itself, so no registry is shared between
connections, loops or threads. A callback must never raise: OpenSSL would turn it into a failed handshake.
"""
from __future__ import annotations

import _ssl
import logging
import ssl
from typing import Any

from xsp.listener import tlswire

_log = logging.getLogger("xsp.cti")

_ATTRIBUTE = "_xsp_handshake_watch"
# The callback is stored on the C-level attribute under ``ssl.SSLContext._msg_callback``:
# the Python setter wraps it in a function that builds three enums per call, and it runs
# for every record for the whole life of every connection (about 4 us a record through
# the wrapper, 0.5 us without).
_C_CALLBACK = getattr(_ssl._SSLContext, "_msg_callback", None)
_MARK = "_xsp_watch_dispatch"

_TLS13 = 0x0304


class HandshakeWatch:
    """What OpenSSL read and wrote during one handshake, as far as a refusal needs it.

    The ClientHello and the client's Certificate message are kept as raw bytes and
    parsed only when asked (a refusal): parsing every ClientHello cost a handshake about
    50 us, and almost every handshake succeeds.
    """

    def __init__(self) -> None:
        self._hello_raw: bytes | None = None
        self._hello: tlswire.ClientHello | None = None
        self._certificate_raw: bytes | None = None
        self._certificate_tls13 = False
        self._chain: list[bytes] | None = None
        self.client_sent_certificate_message = False
        self.sent_alerts: list[int] = []
        self.received_alerts: list[int] = []
        self.server_certificate_sent = False

    def observe(self, direction: str, version: int, content_type: int, data: bytes) -> None:
        if content_type == tlswire.CONTENT_ALERT and len(data) >= 2:
            (self.sent_alerts if direction == "write" else self.received_alerts).append(data[1])
        elif content_type == tlswire.CONTENT_HANDSHAKE and data:
            if direction == "write":
                if data[0] == tlswire.HANDSHAKE_CERTIFICATE:
                    self.server_certificate_sent = True
            elif data[0] == tlswire.HANDSHAKE_CLIENT_HELLO and self._hello_raw is None:
                self._hello_raw = data
            elif data[0] == tlswire.HANDSHAKE_CERTIFICATE:
                self.client_sent_certificate_message = True
                self._certificate_raw, self._chain = data, None
                self._certificate_tls13 = version == _TLS13

    @property
    def client_hello(self) -> tlswire.ClientHello | None:
        if self._hello is None and self._hello_raw is not None:
            self._hello = tlswire.parse_client_hello(self._hello_raw)
            if self._hello is None:
                self._hello_raw = None  # unreadable: parsed once, not at every look
        return self._hello

    @property
    def client_chain(self) -> list[bytes]:
        """DER, leaf first, as the client sent it."""
        if self._chain is None:
            self._chain = ([] if self._certificate_raw is None else
                           tlswire.parse_certificate_message(
                               self._certificate_raw, tls13=self._certificate_tls13))
        return self._chain

    @property
    def last_sent_alert(self) -> int | None:
        return self.sent_alerts[-1] if self.sent_alerts else None

    @property
    def last_received_alert(self) -> int | None:
        return self.received_alerts[-1] if self.received_alerts else None


def _mark(callback: Any) -> None:
    setattr(callback, _MARK, True)
    # ssl.SSLContext's ``_msg_callback`` getter returns ``stored.user_function``.
    callback.user_function = callback


def _dispatch(conn: Any, direction: str, version: Any, content_type: Any, msg_type: Any,
              data: bytes) -> None:
    if content_type != tlswire.CONTENT_HANDSHAKE and content_type != tlswire.CONTENT_ALERT:
        return  # record headers and the like, half of all calls: nothing a watch keeps
    watch = getattr(conn, _ATTRIBUTE, None)
    if watch is None:
        return
    try:
        watch.observe(direction, version, content_type, data)
    except Exception:  # noqa: BLE001 - see the module docstring: never raise into OpenSSL
        _log.debug("handshake watch failed", exc_info=True)


_mark(_dispatch)


def install(context: ssl.SSLContext) -> bool:
    """Route ``context``'s message callback to the watches; idempotent.

    A callback someone else installed (a debugging aid) keeps being called first.
    """
    if _C_CALLBACK is None:
        return False
    stored = _C_CALLBACK.__get__(context, type(context))
    if getattr(stored, _MARK, False):
        return True
    if stored is None:
        callback: Any = _dispatch
    else:
        def callback(*args: Any) -> None:
            try:
                stored(*args)
            finally:
                _dispatch(*args)
        _mark(callback)
    _C_CALLBACK.__set__(context, callback)
    return True


def attach(sslobj: ssl.SSLObject | ssl.SSLSocket) -> HandshakeWatch:
    watch = HandshakeWatch()
    setattr(sslobj, _ATTRIBUTE, watch)
    return watch


def detach(sslobj: ssl.SSLObject | ssl.SSLSocket) -> None:
    """Stop watching once the handshake is over: later records cost one lookup each."""
    if hasattr(sslobj, _ATTRIBUTE):
        delattr(sslobj, _ATTRIBUTE)

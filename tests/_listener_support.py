"""Material for the listener tests: a PKI, contexts built with plain ``ssl``, a tiny
aiohttp application, and a listener running on its own event-loop thread so that tests
can use ordinary blocking clients (``ssl`` sockets, ``http.client``, ``websockets.sync``,
``openssl s_client``) against it over real loopback sockets.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiohttp import web

import xsp_trust as trust
from xsp_trust import CertificateAuthority, IssuedCert
from xsp.listener.refusal import Refusal
from xsp.listener.site import TLSSite
from xsp.node.loop import LoopThread as _LoopThread

T = TypeVar("T")
HOST = "127.0.0.1"
TLS12 = ssl.TLSVersion.TLSv1_2
TLS13 = ssl.TLSVersion.TLSv1_3


@dataclass(frozen=True)
class PKI:
    root: CertificateAuthority
    issuing: CertificateAuthority
    server: IssuedCert
    good: IssuedCert
    expired: IssuedCert
    not_yet_valid: IssuedCert
    evil_root: CertificateAuthority
    intruder: IssuedCert  # issued by a CA nobody trusts
    impostor: IssuedCert  # issued by a CA with the trusted root's name and another key
    self_signed: IssuedCert


@functools.cache
def pki() -> PKI:
    """Minted once per test session; EC keys except the server's (ECDHE-RSA suites)."""
    now = dt.datetime.now(dt.timezone.utc)
    day = dt.timedelta(days=1)
    root = CertificateAuthority.new_root("Listener Test Root", key_type="ec")
    issuing = root.new_intermediate("Listener Test Issuing CA", key_type="ec")
    evil_root = CertificateAuthority.new_root("Evil Root", key_type="ec")
    return PKI(
        root=root, issuing=issuing,
        server=root.issue_server(HOST, dns_names=["localhost"], key_type="rsa"),
        good=issuing.issue_client("webex-client", key_type="ec"),
        expired=issuing.issue_client("expired-client",
                                     not_before=dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc),
                                     not_after=dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc),
                                     key_type="ec"),
        not_yet_valid=issuing.issue_client("future-client", not_before=now + 10 * day,
                                           not_after=now + 40 * day, key_type="ec"),
        evil_root=evil_root,
        intruder=evil_root.issue_client("intruder", key_type="ec"),
        impostor=root.with_fresh_key().issue_client("impostor", key_type="ec"),
        self_signed=trust.self_signed_client("self-made-client"),
    )


def server_context(*, anchors: tuple[CertificateAuthority, ...] | None = None,
                   versions: tuple[ssl.TLSVersion, ssl.TLSVersion] = (TLS12, TLS13),
                   ciphers: str | None = None) -> ssl.SSLContext:
    """What the configuration-driven builder produces, in plain ``ssl``."""
    p = pki()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    p.server.configure_cert(context)
    context.verify_mode = ssl.CERT_REQUIRED
    for anchor in anchors if anchors is not None else (p.root,):
        context.load_verify_locations(cadata=anchor.cert_pem.decode("ascii"))
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    context.minimum_version, context.maximum_version = versions
    if ciphers is not None:
        context.set_ciphers(ciphers)
    return context


def client_context(cert: IssuedCert | None = None, *,
                   versions: tuple[ssl.TLSVersion, ssl.TLSVersion] | None = None,
                   ciphers: str | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cadata=pki().root.cert_pem.decode("ascii"))
    if cert is not None:
        cert.configure_cert(context)
    if versions is not None:
        context.minimum_version, context.maximum_version = versions
    if ciphers is not None:
        context.set_ciphers(ciphers)
    return context


# -- the application -------------------------------------------------------------------
GATE = web.AppKey("gate", asyncio.Event)
FLOOD = web.AppKey("flood", dict)
FILE = web.AppKey("file", Path)


async def whoami(request: web.Request) -> web.Response:
    transport = request.transport
    assert transport is not None
    cert = transport.get_extra_info("peercert")
    sslobj = transport.get_extra_info("ssl_object")
    cn = dict(x[0] for x in cert["subject"])["commonName"] if cert else None
    return web.json_response({
        "cn": cn,
        "version": sslobj.version() if sslobj is not None else None,
        "cipher": (transport.get_extra_info("cipher") or [None])[0],
        "peername": list(transport.get_extra_info("peername")),
        "sockname": list(transport.get_extra_info("sockname")),
        "socket": transport.get_extra_info("socket") is not None,
        "sslcontext": transport.get_extra_info("sslcontext") is not None,
    })


async def echo(request: web.Request) -> web.Response:
    body = await request.read()
    return web.Response(body=body, headers={"X-SHA256": hashlib.sha256(body).hexdigest()})


async def stream(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse()
    response.enable_chunked_encoding()
    await response.prepare(request)
    await response.write(b"event-1\n")
    await request.app[GATE].wait()  # the client must have read event-1 before this opens
    await response.write(b"event-2\n")
    await response.write_eof()
    return response


async def flood(request: web.Request) -> web.StreamResponse:
    """Write ``mib`` MiB to a client that is slow to read; record what flow control did."""
    transport = request.transport
    assert transport is not None
    sock = transport.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
    record = request.app[FLOOD]
    response = web.StreamResponse()
    response.content_length = int(request.query["mib"]) * 1024 * 1024
    await response.prepare(request)
    chunk = bytes(range(256)) * 256  # 64 KiB
    for _ in range(response.content_length // len(chunk)):
        await response.write(chunk)
        record["max_buffer"] = max(record.get("max_buffer", 0), transport.get_write_buffer_size())
        record["paused"] = record.get("paused", False) or request.protocol.writing_paused
    await response.write_eof()
    return response


async def websocket_echo(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for message in ws:
        if message.type == web.WSMsgType.TEXT:
            await ws.send_str(message.data)
        elif message.type == web.WSMsgType.BINARY:
            await ws.send_bytes(message.data)
    return ws


async def a_file(request: web.Request) -> web.FileResponse:
    return web.FileResponse(request.app[FILE])


def make_app(file: Path | None = None) -> web.Application:
    app = web.Application(client_max_size=4 * 1024 * 1024)
    app[GATE] = asyncio.Event()
    app[FLOOD] = {}
    if file is not None:
        app[FILE] = file
    app.router.add_get("/whoami", whoami)
    app.router.add_post("/echo", echo)
    app.router.add_get("/stream", stream)
    app.router.add_get("/flood", flood)
    app.router.add_get("/ws", websocket_echo)
    app.router.add_get("/file", a_file)
    return app


# -- the listener on its own loop ---------------------------------------------------------
class LoopThread(_LoopThread):
    """An event loop on a daemon thread; ``run`` a coroutine there and wait for it."""

    def __init__(self) -> None:
        super().__init__("listener-loop", timeout=10.0)


class Listener:
    """A runner with one TLSSite; refusals are collected for the test to look at."""

    def __init__(self, loop: LoopThread, app: web.Application) -> None:
        self.loop = loop
        self.app = app
        self.runner = web.AppRunner(app)
        self.site: TLSSite | None = None
        self.refusals: list[Refusal] = []
        self._changed = threading.Condition()

    def _on_refusal(self, refusal: Refusal) -> None:
        with self._changed:
            self.refusals.append(refusal)
            self._changed.notify_all()

    def start(self, context: ssl.SSLContext | None, *, port: int = 0,
              handshake_timeout: float = 10.0, write_timeout: float | None = None) -> int:
        async def start() -> int:
            if self.runner.server is None:
                await self.runner.setup()
            self.site = TLSSite(self.runner, HOST, port, context,
                                label=f"{HOST}:8012 (bound {HOST}:{port})",
                                on_refusal=self._on_refusal,
                                handshake_timeout=handshake_timeout,
                                write_timeout=write_timeout)
            await self.site.start()
            return self.site.bound[1]
        return self.loop.run(start())

    def stop_site(self) -> None:
        assert self.site is not None
        self.loop.run(self.site.stop())

    def cleanup(self) -> None:
        self.loop.run(self.runner.cleanup(), timeout=20)

    def open_gate(self) -> None:
        self.loop.loop.call_soon_threadsafe(self.app[GATE].set)

    def wait_refusals(self, count: int, timeout: float = 5.0) -> list[Refusal]:
        """Refusals are reported on the loop thread right after the alert is flushed,
        so a client can see the alert a moment before the report lands."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.refusals) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} refusals, got {self.refusals}")
                self._changed.wait(left)
            return list(self.refusals)


@contextmanager
def running_listener(context: ssl.SSLContext | None, *, handshake_timeout: float = 10.0,
                     file: Path | None = None,
                     write_timeout: float | None = None) -> Iterator[tuple[Listener, int]]:
    loop = LoopThread()
    listener = Listener(loop, make_app(file))
    try:
        port = listener.start(context, handshake_timeout=handshake_timeout,
                              write_timeout=write_timeout)
        yield listener, port
    finally:
        try:
            listener.cleanup()
        finally:
            loop.close()


# -- clients -------------------------------------------------------------------------------
REQUEST = b"GET /whoami HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"


def refused_reason(port: int, context: ssl.SSLContext) -> str:
    """The reason of the alert a Python ssl client receives, during the handshake or,
    with TLS 1.3 (where the client finishes before the server has checked its
    certificate), on its first read."""
    with socket.create_connection((HOST, port), timeout=5) as raw:
        try:
            with context.wrap_socket(raw, server_hostname=HOST) as tls:
                tls.sendall(REQUEST)
                data = tls.recv(65536)
        except ssl.SSLError as error:
            return str(error.reason)
    raise AssertionError(f"the connection was not refused; received {data[:80]!r}")


def get_whoami(port: int, context: ssl.SSLContext) -> dict[str, Any]:
    import http.client
    import json
    connection = http.client.HTTPSConnection(HOST, port, context=context, timeout=5)
    try:
        connection.request("GET", "/whoami")
        response = connection.getresponse()
        assert response.status == 200, response.status
        return json.loads(response.read())
    finally:
        connection.close()


def raw_exchange(port: int, payload: bytes, *, timeout: float = 5.0) -> bytes:
    """Send ``payload`` on a plain socket and read until the server closes."""
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        sock.sendall(payload)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


def bio_handshake(client: ssl.SSLObject, incoming: ssl.MemoryBIO, outgoing: ssl.MemoryBIO,
                  sock: socket.socket) -> None:
    """Drive a memory-BIO client's handshake over ``sock``, leaving its last flight unsent,
    so a test can put application data in the same segment."""
    while True:
        try:
            client.do_handshake()
            return
        except ssl.SSLWantReadError:
            sock.sendall(outgoing.read())
            incoming.write(sock.recv(65536))


BOTH = pytest.mark.parametrize("version", [TLS12, TLS13], ids=["TLSv1.2", "TLSv1.3"])

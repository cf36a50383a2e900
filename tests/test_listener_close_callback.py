"""The listener's TLS transport tells a waiting writer when its connection is lost, so an
idle stream needs no polling: ``add_close_callback`` fires once the client has gone, and
at once for a connection already lost."""
from __future__ import annotations

import asyncio
import socket
import threading
import time

from _listener_support import HOST, TLS12, LoopThread, client_context, pki, server_context
from xsp.listener.tlsserver import serve
from xsp.listener.tlstransport import TLSServerProtocol


class Watching(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.fired: list[float] = []
        self.lost = threading.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.add_close_callback(lambda: self.fired.append(time.monotonic()))  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost.set()


def test_a_lost_connection_calls_its_close_callbacks_once_and_late_ones_at_once():
    loop = LoopThread()
    app = Watching()
    refusals: list = []
    context = server_context()  # here, not on the loop's thread: the PKI is made once

    def accepted(sock: socket.socket, peer: object) -> None:
        TLSServerProtocol(lambda: app, context, label="t",
                          refused=refusals.append).accepted(sock, peer)

    server = loop.run(serve(HOST, 0, accepted, backlog=8))
    try:
        port = server.sockets[0].getsockname()[1]
        raw = socket.create_connection((HOST, port), timeout=5)
        tls = client_context(pki().good, versions=(TLS12, TLS12)).wrap_socket(
            raw, server_hostname=HOST)
        deadline = time.monotonic() + 5
        while loop.call(lambda: app.transport) is None:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        time.sleep(0.2)
        assert loop.call(lambda: list(app.fired)) == []  # an idle connection: nothing yet
        tls.close()  # gone without close_notify
        assert app.lost.wait(5)
        deadline = time.monotonic() + 5
        while not loop.call(lambda: list(app.fired)):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        late: list[str] = []
        loop.call(lambda: app.transport.add_close_callback(lambda: late.append("late")))
        time.sleep(0.1)
        assert late == ["late"]
        assert len(app.fired) == 1
        assert refusals == []
    finally:
        loop.call(server.close)
        loop.close()

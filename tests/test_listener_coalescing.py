"""Small writes made in one turn of the loop leave together, in as few TLS records as
their size needs (one send()), in order."""
from __future__ import annotations

import asyncio
import socket
import ssl
import time

from _listener_support import (HOST, TLS12, LoopThread, bio_handshake, client_context, pki,
                               server_context)
from xsp.listener.tlsserver import serve
from xsp.listener.tlstransport import TLSServerProtocol


class Answering(asyncio.Protocol):
    """Answers each request with three small writes and one large one, all at once."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        assert isinstance(self.transport, asyncio.Transport)
        for piece in (b"one;", b"two;", b"three;"):
            self.transport.write(piece)
        self.transport.write(b"L" * 20000)


def _records(data: bytes) -> list[tuple[int, int]]:
    records, offset = [], 0
    while offset + 5 <= len(data):
        length = int.from_bytes(data[offset + 3:offset + 5], "big")
        records.append((data[offset], length))
        offset += 5 + length
    return records


def test_the_writes_of_one_turn_share_records():
    loop = LoopThread()
    context = server_context()
    refusals: list = []

    def accepted(sock: socket.socket, peer: object) -> None:
        TLSServerProtocol(Answering, context, label="t",
                          refused=refusals.append).accepted(sock, peer)

    server = loop.run(serve(HOST, 0, accepted, backlog=8))
    try:
        port = server.sockets[0].getsockname()[1]
        client_ctx = client_context(pki().good, versions=(TLS12, TLS12))
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        client = client_ctx.wrap_bio(incoming, outgoing, server_hostname=HOST)
        with socket.create_connection((HOST, port), timeout=5) as sock:
            bio_handshake(client, incoming, outgoing, sock)
            client.write(b"go")
            sock.sendall(outgoing.read())
            raw = b""
            deadline = time.monotonic() + 5
            while sum(length for _, length in _records(raw)) < 20014 + 2 * 24:
                assert time.monotonic() < deadline
                sock.settimeout(max(deadline - time.monotonic(), 0.1))
                raw += sock.recv(65536)
        records = [r for r in _records(raw) if r[0] == 23]  # application data
        # 20,014 bytes in two full-size records, not a record per write (five).
        assert len(records) == 2
        incoming.write(raw)
        received = b""
        while True:
            try:
                received += client.read(65536)
            except ssl.SSLWantReadError:
                break
        assert received == b"one;two;three;" + b"L" * 20000
        assert refusals == []
    finally:
        loop.call(server.close)
        loop.close()

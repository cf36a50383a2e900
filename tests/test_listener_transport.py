"""Accepted clients: what the application sees and how bytes flow through the TLS
transport (bodies, streaming, WebSocket, flow control, close_notify, pausing)."""
from __future__ import annotations

import asyncio
import hashlib
import http.client
import logging
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time

import pytest
from websockets.sync.client import connect as ws_connect

from _listener_support import (
    BOTH, FLOOD, HOST, REQUEST, TLS12, TLS13, LoopThread, bio_handshake, client_context,
    get_whoami, pki, running_listener, server_context)
from xsp.listener.tlstransport import TLSServerProtocol


@BOTH
def test_a_good_client_gets_200_and_the_app_sees_its_certificate(listener, version):
    lst, port = listener
    seen = get_whoami(port, client_context(pki().good, versions=(version, version)))
    assert seen["cn"] == "webex-client"
    assert seen["version"] == {TLS12: "TLSv1.2", TLS13: "TLSv1.3"}[version]
    assert seen["cipher"] and seen["socket"] and seen["sslcontext"]
    assert seen["sockname"] == [HOST, port] and seen["peername"][0] == HOST
    assert lst.refusals == []


def test_a_megabyte_each_way_arrives_intact(listener):
    _, port = listener
    body = os.urandom(1024 * 1024)
    connection = http.client.HTTPSConnection(HOST, port, context=client_context(pki().good),
                                             timeout=10)
    connection.request("POST", "/echo", body=body)
    response = connection.getresponse()
    returned = response.read()
    connection.close()
    assert response.status == 200
    assert response.headers["X-SHA256"] == hashlib.sha256(body).hexdigest()
    assert returned == body


def test_a_chunked_response_is_read_progressively(listener):
    lst, port = listener
    connection = http.client.HTTPSConnection(HOST, port, context=client_context(pki().good),
                                             timeout=5)
    connection.request("GET", "/stream")
    response = connection.getresponse()
    assert response.headers["Transfer-Encoding"] == "chunked"
    # The server holds event-2 until the gate opens; reading event-1 first proves it was
    # delivered on its own, not buffered until the end of the response.
    first = b""
    while not first.endswith(b"\n"):
        first += response.read1(64)
    assert first == b"event-1\n"
    lst.open_gate()
    assert response.read() == b"event-2\n"
    connection.close()


def test_a_websocket_echoes_over_the_tls_site(listener):
    _, port = listener
    big = os.urandom(300 * 1024)
    with ws_connect(f"wss://{HOST}:{port}/ws", ssl=client_context(pki().good),
                    max_size=None, open_timeout=5) as ws:
        ws.send("hello over mTLS")
        assert ws.recv(timeout=5) == "hello over mTLS"
        ws.send(big)
        assert ws.recv(timeout=5) == big


def test_a_slow_reader_pauses_the_application_s_writes(listener):
    lst, port = listener
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    raw.settimeout(10)
    raw.connect((HOST, port))
    tls = client_context(pki().good).wrap_socket(raw, server_hostname=HOST)
    tls.sendall(b"GET /flood?mib=4 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    time.sleep(0.5)  # not reading: the server must stop, not buffer 4 MiB in memory
    record = lst.app[FLOOD]
    assert record.get("paused") is True
    assert record["max_buffer"] < 512 * 1024
    received = b""
    while chunk := tls.recv(1 << 20):
        received += chunk
    tls.close()
    head, _, body = received.partition(b"\r\n\r\n")
    assert body == (bytes(range(256)) * 256) * 64


def test_a_file_response_falls_back_to_writes_through_tls(tmp_path):
    content = os.urandom(200_000)
    path = tmp_path / "payload.bin"
    path.write_bytes(content)
    with running_listener(server_context(), file=path) as (_, port):
        connection = http.client.HTTPSConnection(HOST, port, context=client_context(pki().good),
                                                 timeout=5)
        connection.request("GET", "/file")
        response = connection.getresponse()
        assert (response.status, response.read()) == (200, content)
        connection.close()


def test_a_request_sent_with_the_client_s_finished_is_answered(listener):
    """TLS 1.3 lets the client's first request ride in the same segment as its final
    handshake flight; it must reach the application without waiting for more bytes."""
    _, port = listener
    context = client_context(pki().good, versions=(TLS13, TLS13))
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = context.wrap_bio(incoming, outgoing, server_hostname=HOST)
    with socket.create_connection((HOST, port), timeout=5) as sock:
        bio_handshake(client, incoming, outgoing, sock)
        client.write(REQUEST)
        sock.sendall(outgoing.read())  # Certificate, CertificateVerify, Finished + request
        response = b""
        while data := sock.recv(65536):  # until the server closes (Connection: close)
            incoming.write(data)
            try:
                while chunk := client.read(65536):  # b"" once close_notify is read
                    response += chunk
            except ssl.SSLWantReadError:
                pass
    assert response.startswith(b"HTTP/1.1 200 OK") and b"webex-client" in response


def test_a_tls13_session_ticket_lets_the_client_resume(listener):
    _, port = listener
    context = client_context(pki().good, versions=(TLS13, TLS13))
    with socket.create_connection((HOST, port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=HOST) as tls:
            tls.sendall(REQUEST)
            while tls.recv(65536):
                pass
            session = tls.session
    assert session is not None and session.has_ticket
    with socket.create_connection((HOST, port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=HOST, session=session) as tls:
            tls.sendall(REQUEST)
            answer = tls.recv(65536)
            assert tls.session_reused
    assert answer.startswith(b"HTTP/1.1 200 OK")


def test_the_application_closing_sends_close_notify(listener):
    _, port = listener
    with socket.create_connection((HOST, port), timeout=5) as raw:
        context = client_context(pki().good)
        # suppress_ragged_eofs=False: a FIN without close_notify would raise SSLEOFError.
        with context.wrap_socket(raw, server_hostname=HOST, suppress_ragged_eofs=False) as tls:
            tls.sendall(REQUEST)  # Connection: close, so aiohttp closes after answering
            received = b""
            while chunk := tls.recv(65536):
                received += chunk
    assert received.startswith(b"HTTP/1.1 200 OK") and b"webex-client" in received


# -- the transport under a plain asyncio protocol ---------------------------------------
class Recorder(asyncio.Protocol):
    """Pauses reading on the first chunk; logs every callback in order."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.events.append("made")

    def data_received(self, data: bytes) -> None:
        self.events.append(f"data:{data.decode()}")
        if len(self.events) == 2:
            assert self.transport is not None
            self.transport.pause_reading()

    def eof_received(self) -> None:
        self.events.append("eof")

    def connection_lost(self, exc: Exception | None) -> None:
        self.events.append(f"lost:{exc!r}")


def test_paused_reading_holds_decrypted_records_then_delivers_them_in_order():
    loop = LoopThread()
    recorder = Recorder()
    refusals: list = []

    async def serve() -> asyncio.AbstractServer:
        return await asyncio.get_running_loop().create_server(
            lambda: TLSServerProtocol(lambda: recorder, server_context(), label="t",
                                      refused=refusals.append), HOST, 0)
    server = loop.run(serve())
    try:
        port = server.sockets[0].getsockname()[1]
        context = client_context(pki().good, versions=(TLS12, TLS12))
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        client = context.wrap_bio(incoming, outgoing, server_hostname=HOST)
        with socket.create_connection((HOST, port), timeout=5) as sock:
            bio_handshake(client, incoming, outgoing, sock)
            for word in ("one", "two", "three"):
                client.write(word.encode())  # three records
            try:
                client.unwrap()  # and close_notify, all in one segment
            except ssl.SSLWantReadError:
                pass
            sock.sendall(outgoing.read())
            time.sleep(0.3)
            assert loop.call(lambda: list(recorder.events)) == ["made", "data:one"]
            assert loop.call(lambda: recorder.transport.is_reading()) is False
            loop.call(lambda: recorder.transport.resume_reading())
            # The server answers our close_notify with its own, then closes.
            reply = b""
            while chunk := sock.recv(65536):
                reply += chunk
            incoming.write(reply)
            with pytest.raises(ssl.SSLZeroReturnError):
                client.read(10)
        deadline = time.monotonic() + 5
        while "lost:None" not in loop.call(lambda: list(recorder.events)):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert recorder.events == ["made", "data:one", "data:two", "data:three", "eof",
                                   "lost:None"]
        assert refusals == []
    finally:
        server.close()
        loop.close()


def _s_client_command(lst, port: int, tmp_path, version: str, command: str) -> str:
    """Run ``openssl s_client -msg`` with a client certificate, give it a one-letter
    command once the handshake is done, then an HTTP/1.0 request; return its output."""
    p = pki()
    p.good.write(tmp_path / "c.pem", tmp_path / "k.pem", tmp_path / "chain.pem")
    (tmp_path / "ca.pem").write_bytes(p.root.cert_pem)
    command_line = ["openssl", "s_client", "-connect", f"{HOST}:{port}", version, "-msg",
                    "-crlf", "-CAfile", str(tmp_path / "ca.pem"), "-cert", str(tmp_path / "c.pem"),
                    "-key", str(tmp_path / "k.pem"), "-cert_chain", str(tmp_path / "chain.pem")]
    output: list[str] = []
    with subprocess.Popen(command_line, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        stdout = proc.stdout
        reader = threading.Thread(target=lambda: output.extend(stdout), daemon=True)
        reader.start()
        try:
            # s_client's stdout is block-buffered, so progress is read on the server side:
            # once aiohttp has the connection, s_client is in its command loop.
            deadline = time.monotonic() + 5
            while not lst.loop.call(lambda: lst.runner.server.connections):
                assert time.monotonic() < deadline, "no handshake"
                time.sleep(0.02)
            proc.stdin.write(command + "\n")
            proc.stdin.flush()
            time.sleep(0.2)  # a separate read for s_client, or the letter is not a command
            try:
                proc.stdin.write("GET /whoami HTTP/1.0\n\n")
                proc.stdin.flush()
            except BrokenPipeError:
                pass  # s_client gave up on the connection; its output says why
            proc.wait(5)  # it ends when the server closes the connection
        finally:
            proc.kill()
            proc.wait()
            reader.join(5)
            try:
                proc.stdin.close()
            except BrokenPipeError:
                pass
    return "".join(output)


openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl binary")


@openssl
def test_a_tls13_key_update_is_answered_and_the_connection_goes_on(listener, tmp_path):
    """'K' sends a KeyUpdate asking the server to update its keys too."""
    lst, port = listener
    text = _s_client_command(lst, port, tmp_path, "-tls1_3", "K")
    assert ">>> TLS 1.3, Handshake [length 0005], KeyUpdate" in text
    assert "<<< TLS 1.3, Handshake [length 0005], KeyUpdate" in text  # the server's own
    assert "HTTP/1.0 200 OK" in text and '"cn": "webex-client"' in text


@openssl
def test_client_renegotiation_is_declined_with_a_no_renegotiation_warning(listener, tmp_path):
    """OpenSSL 3 servers refuse client-initiated renegotiation; the warning is produced
    while reading and must go out at once, or the client waits for a ServerHello."""
    lst, port = listener
    text = _s_client_command(lst, port, tmp_path, "-tls1_2", "R")
    assert "RENEGOTIATING" in text
    assert "<<< TLS 1.2, Alert [length 0002], warning no_renegotiation" in text
    assert lst.refusals == []  # the handshake had succeeded: not a refusal


def test_a_client_that_stops_reading_is_cut_off_at_the_write_timeout(caplog):
    """With a write timeout of 1 s, a client that reads nothing of a 64 MiB answer has its
    connection cut after about a second, one log line says so, and what it finds when it
    reads at last is what was already in flight, not the answer."""
    caplog.set_level(logging.INFO, logger="xsp.cti")
    with running_listener(server_context(), write_timeout=1.0) as (lst, port):
        raw = socket.socket()
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        raw.settimeout(10)
        raw.connect((HOST, port))
        tls = client_context(pki().good).wrap_socket(raw, server_hostname=HOST)
        tls.sendall(b"GET /flood?mib=64 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        time.sleep(2.5)
        received = 0
        with pytest.raises((ConnectionError, ssl.SSLError)):
            while chunk := tls.recv(1 << 20):
                received += len(chunk)
            raise ConnectionError("the stream ended")  # an end without the answer counts too
        tls.close()
        assert received < 8 * 1024 * 1024
        lines = [r.getMessage() for r in caplog.records if "read nothing" in r.getMessage()]
        assert len(lines) == 1
        assert lines[0].startswith(f"CTI {HOST}:8012 (bound {HOST}:0): {HOST}:")
        assert lines[0].endswith("written to it for 1 s; connection closed")

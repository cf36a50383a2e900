"""The CTI listener of a configured, restarted node (demo PKI) under bad peers: plain
HTTP and random bytes on the TLS port, stalled and trickling handshakes, oversized
headers and bodies after a good handshake (on the node's Xsi interface, which speaks
HTTP), a thousand half-open connections. Throughout, a Webex-like client subscribed to
alice keeps receiving the events of simulated calls.
"""
from __future__ import annotations

import logging
import os
import random
import selectors
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from _hardening_support import HOST, LineReader, QuickNode, open_files_limit, proc_fd_count
from xsp.testing import WebexSession

HANDSHAKE_TIMEOUT = 1.0
ROOT = "/com.broadsoft.xsi-events/v2.0"
ASYNC_ROOT = "/com.broadsoft.async/com.broadsoft.xsi-events/v2.0"
CALL_EVENTS = {"CallReceivedEvent", "CallAnsweredEvent", "CallReleasedEvent"}


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[QuickNode]:
    """A configured, restarted node shared by the module, with a short handshake timeout."""
    running = QuickNode.start_quick(tmp_path_factory.mktemp("listener"),
                                    handshake_timeout=HANDSHAKE_TIMEOUT)
    try:
        running.enable_xsi()  # the HTTP cases below are the Xsi interface's
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def webex(node: QuickNode) -> Iterator[WebexSession]:
    """The good client: one channel, subscribed to alice, its first event consumed."""
    with node.webex_client() as session:
        session.subscribe("alice@example.com")
        assert session.next_event().type == "CallSubscriptionEvent"
        yield session


def call_reaches_webex(node: QuickNode, webex: WebexSession) -> None:
    """A call to alice: its five events reach the good client, each in time."""
    node.call("bob@example.com", "alice@example.com", answer_after=0.05, release_after=0.05)
    events = webex.events(5, timeout=10)
    assert CALL_EVENTS <= {e.type for e in events}, [e.type for e in events]
    assert {e.subject for e in events} == {"alice@example.com"}, [e.as_dict() for e in events]


def _open(node: QuickNode) -> socket.socket:
    return socket.create_connection((HOST, node.port), timeout=5)


def seconds_until_closed(sock: socket.socket, limit: float) -> float:
    """How long until the server ends the connection (EOF or reset); bytes it sends first
    (an alert) are read and dropped."""
    start = time.monotonic()
    sock.settimeout(0.2)
    while time.monotonic() - start < limit:
        try:
            if sock.recv(65536) == b"":
                return time.monotonic() - start
        except TimeoutError:
            continue
        except OSError:  # reset
            return time.monotonic() - start
    raise AssertionError(f"the server kept the connection open for {limit} s")


def refusal_lines(caplog: pytest.LogCaptureFixture, count: int, timeout: float = 5.0) -> list[str]:
    """The node's refusal log lines, waiting (bounded) for ``count`` of them: a refusal
    is logged on the node's loop right after the connection is closed."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [r.getMessage() for r in caplog.records
                 if r.name == "xsp.cti" and ": refused " in r.getMessage()]
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.02)


def client_hello() -> bytes:
    """The first flight of a real TLS client, made through memory BIOs."""
    context = ssl.create_default_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname=HOST)
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


# -- not TLS at all ----------------------------------------------------------------------------

def test_plain_http_is_refused_at_once_and_logged_in_one_line(
        node: QuickNode, webex: WebexSession, caplog: pytest.LogCaptureFixture) -> None:
    """An HTTP request on the TLS port: the connection ends at once (no TLS alert is
    possible) and the node logs one line calling it plain HTTP."""
    caplog.set_level(logging.INFO, logger="xsp.cti")
    with _open(node) as sock:
        sock.sendall(b"GET /com.broadsoft.xsi-events/v2.0/user/alice HTTP/1.1\r\nHost: x\r\n\r\n")
        assert seconds_until_closed(sock, 5) < HANDSHAKE_TIMEOUT
    [line] = refusal_lines(caplog, 1)
    assert line.endswith(": not a TLS ClientHello (plain HTTP?); no alert sent"), line
    call_reaches_webex(node, webex)


def test_random_bytes_are_refused_within_the_handshake_timeout(
        node: QuickNode, webex: WebexSession, caplog: pytest.LogCaptureFixture) -> None:
    """Fifty connections at once, each sending seeded random bytes (half of them behind a
    TLS handshake record header): every one is closed by the node within the handshake
    timeout and refused with one log line; the good client is not disturbed."""
    caplog.set_level(logging.INFO, logger="xsp.cti")
    rng = random.Random(20240611)
    sockets = []
    for index in range(50):
        body = rng.randbytes(rng.randint(1, 3000))
        payload = (b"\x16\x03\x01" + body) if index % 2 else body
        sock = _open(node)
        sock.sendall(payload)
        sockets.append(sock)
    try:
        call_reaches_webex(node, webex)
        for sock in sockets:
            assert seconds_until_closed(sock, HANDSHAKE_TIMEOUT + 4) < HANDSHAKE_TIMEOUT + 3
    finally:
        for sock in sockets:
            sock.close()
    lines = refusal_lines(caplog, 50)
    assert len(lines) == 50, lines
    assert all("\n" not in line for line in lines)


# -- handshakes that do not finish ---------------------------------------------------------------

@pytest.mark.parametrize("sent", ["nothing", "half a ClientHello", "a whole ClientHello"])
def test_a_stalled_handshake_times_out_while_the_good_client_carries_on(
        node: QuickNode, webex: WebexSession, caplog: pytest.LogCaptureFixture, sent: str) -> None:
    """A client that stops mid-handshake is closed after the handshake timeout, with the
    log line saying so; a call made meanwhile reaches the good client."""
    caplog.set_level(logging.INFO, logger="xsp.cti")
    hello = client_hello()
    with _open(node) as sock:
        started = time.monotonic()
        if sent != "nothing":
            sock.sendall(hello if sent.startswith("a whole") else hello[: len(hello) // 2])
        call_reaches_webex(node, webex)
        waited = time.monotonic() - started + seconds_until_closed(sock, HANDSHAKE_TIMEOUT + 4)
    assert HANDSHAKE_TIMEOUT * 0.9 <= waited < HANDSHAKE_TIMEOUT + 3
    [line] = refusal_lines(caplog, 1)
    assert line.endswith(f": handshake timed out after {HANDSHAKE_TIMEOUT:g} s; no alert sent"), line


def test_a_trickled_handshake_gets_a_deadline_not_an_idle_timer(
        node: QuickNode, caplog: pytest.LogCaptureFixture) -> None:
    """Sending the ClientHello a byte every 0.1 s does not keep the handshake alive: the
    timeout counts from the connection, not from the last byte."""
    caplog.set_level(logging.INFO, logger="xsp.cti")
    hello = client_hello()
    with _open(node) as sock:
        started = time.monotonic()
        closed = False
        for byte in hello[:40]:
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                closed = True
                break
            time.sleep(0.1)
            if time.monotonic() - started > HANDSHAKE_TIMEOUT + 2:
                break
        if not closed:
            seconds_until_closed(sock, 4)
        assert time.monotonic() - started < HANDSHAKE_TIMEOUT + 3
    [line] = refusal_lines(caplog, 1)
    assert "handshake timed out" in line


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_a_renegotiation_request_is_refused(node: QuickNode, webex: WebexSession) -> None:
    """A TLS 1.2 client that asks to renegotiate (a classic CPU-exhaustion lever) is
    refused with the no_renegotiation alert and the connection ends."""
    pki = node.pki
    client = subprocess.Popen(
        ["openssl", "s_client", "-connect", f"{HOST}:{node.port}", "-tls1_2",
         "-cert", str(pki.webex_client_cert), "-key", str(pki.webex_client_key),
         "-CAfile", str(pki.partner_ca)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert client.stdin is not None
        reader = LineReader(client)
        reader.wait_for(r"Verify return code: 0", 10)  # "R" before this would be data
        client.stdin.write(b"R\n")
        client.stdin.flush()
        reader.wait_for(r"no renegotiation", 10)
        assert client.wait(10) is not None  # the server ended the connection
    finally:
        if client.poll() is None:
            client.kill()
            client.wait(5)
    call_reaches_webex(node, webex)


# -- bad HTTP after a good handshake --------------------------------------------------------------

def _authenticated_xsi(node: QuickNode) -> ssl.SSLSocket:
    """A good client on the node's Xsi interface, which speaks HTTP."""
    assert node.xsi_port is not None
    raw = socket.create_connection((HOST, node.xsi_port), timeout=5)
    return node.client_context().wrap_socket(raw, server_hostname=HOST)


def _handshake_by_hand(node: QuickNode, sock: socket.socket) -> None:
    """A good client handshake through memory BIOs, leaving ``sock`` to write raw bytes on."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = node.client_context().wrap_bio(incoming, outgoing, server_hostname=HOST)
    deadline = time.monotonic() + 5
    while True:
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            if outgoing.pending:
                sock.sendall(outgoing.read())
            assert time.monotonic() < deadline, "handshake did not finish"
            data = sock.recv(65536)
            assert data, "the server closed during a good handshake"
            incoming.write(data)
    if outgoing.pending:
        sock.sendall(outgoing.read())


def test_a_forged_record_after_the_handshake_ends_that_connection_only(
        node: QuickNode, webex: WebexSession) -> None:
    """Application data that does not decrypt (a forged or corrupted record, on the
    TLSv1.2 the Webex procedure configures) ends that connection at once; the node and
    the good client carry on."""
    with _open(node) as sock:
        _handshake_by_hand(node, sock)
        sock.sendall(b"\x17\x03\x03\x00\x40" + random.Random(7).randbytes(0x40))
        assert seconds_until_closed(sock, 5) < 2
    call_reaches_webex(node, webex)


def status_of_first_answer(sock: ssl.SSLSocket, payload: bytes, limit: float = 5.0) -> tuple[int, bytes, float]:
    """Send ``payload`` (the server may stop reading part-way) and read the status line
    of the answer; returns status, what was read, and how long it took."""
    started = time.monotonic()
    sock.settimeout(limit)
    try:
        sock.sendall(payload)
    except OSError:
        pass  # the server answered and closed before taking everything
    received = b""
    while b"\r\n" not in received:
        chunk = sock.recv(65536)
        if not chunk:
            break
        received += chunk
    assert received.startswith(b"HTTP/1."), received[:200]
    return int(received.split(b" ", 2)[1]), received, time.monotonic() - started


OVERSIZED = {
    "a 100 KB header line": (
        f"POST {ROOT}/channel/eventresponse HTTP/1.1\r\nHost: x\r\nX-Big: {'a' * 100_000}\r\n\r\n").encode(),
    "a 100 KB request target": f"GET {ROOT}/{'a' * 100_000} HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
    "5,000 headers": (f"GET {ROOT}/channelset/x HTTP/1.1\r\nHost: x\r\n"
                      + "".join(f"X-{i}: v\r\n" for i in range(5000)) + "\r\n").encode(),
    "an absurd Content-Length": (f"POST {ROOT}/channel/eventresponse HTTP/1.1\r\nHost: x\r\n"
                                 "Content-Length: 99999999999999999999\r\n\r\n").encode(),
}


@pytest.mark.parametrize("what", list(OVERSIZED))
def test_oversized_request_heads_get_a_4xx_at_once(node: QuickNode, webex: WebexSession,
                                                     what: str) -> None:
    """Headers beyond the parser's limits are answered 4xx within a second, not hung."""
    with _authenticated_xsi(node) as sock:
        status, _, took = status_of_first_answer(sock, OVERSIZED[what])
    assert 400 <= status < 500 and took < 2.0, (status, took)
    call_reaches_webex(node, webex)


BODY_PATHS = {"eventresponse": f"{ROOT}/channel/eventresponse",
              "subscribe": f"{ROOT}/user/alice@example.com",
              "open channel": f"{ASYNC_ROOT}/channel"}


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
@pytest.mark.parametrize("where", list(BODY_PATHS))
def test_an_oversized_body_gets_413_error_info_at_once(node: QuickNode, webex: WebexSession,
                                                        where: str, framing: str) -> None:
    """A body beyond 64 KiB (announced as 10 MiB, or chunked) is answered 413 with an
    ErrorInfo document within a second, while the client is still sending it."""
    path = BODY_PATHS[where]
    if framing == "content-length":
        head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {10 * 1024 * 1024}\r\n\r\n"
        first, rest = b"<" * (256 * 1024), b"<" * (10 * 1024 * 1024 - 256 * 1024)
    else:
        head = f"POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        first, rest = (b"10000\r\n" + b"<" * 0x10000 + b"\r\n") * 4, b"0\r\n\r\n"
    with _authenticated_xsi(node) as sock:
        status, received, took = status_of_first_answer(sock, head.encode() + first)
        while b"</ErrorInfo>" not in received and len(received) < 4096:
            chunk = sock.recv(4096)
            if not chunk:
                break
            received += chunk
        # The rest of the body, so that the server's lingering read ends now rather than
        # at its own timeout.
        sock.sendall(rest)
    assert status == 413 and took < 2.0, (status, took)
    assert b"<ErrorInfo" in received and b"larger than 65536 bytes" in received, received
    call_reaches_webex(node, webex)


def test_an_oversized_websocket_message_closes_with_1009_at_once(
        node: QuickNode, webex: WebexSession) -> None:
    """A WebSocket frame announcing 10 MiB on the channel endpoint is answered with a
    close frame, code 1009 (message too big), before the client has sent it all."""
    upgrade = (f"GET {ASYNC_ROOT}/channel HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n").encode()
    with _authenticated_xsi(node) as sock:
        status, received, _ = status_of_first_answer(sock, upgrade)
        assert status == 101
        while b"\r\n\r\n" not in received:
            received += sock.recv(4096)
        frame = b"\x81\xff" + (10 * 1024 * 1024).to_bytes(8, "big") + b"\x00\x00\x00\x00"
        started = time.monotonic()
        try:
            sock.sendall(frame + b"<" * (128 * 1024))
        except OSError:
            pass
        tail = received.split(b"\r\n\r\n", 1)[1]
        while len(tail) < 4:
            chunk = sock.recv(4096)
            assert chunk, "closed without a close frame"
            tail += chunk
    assert tail[0] == 0x88 and int.from_bytes(tail[2:4], "big") == 1009, tail[:8]
    assert time.monotonic() - started < 2.0
    call_reaches_webex(node, webex)


# -- many connections --------------------------------------------------------------------------

def _somaxconn() -> int:
    try:
        return int(Path("/proc/sys/net/core/somaxconn").read_text())
    except OSError:
        return 0


def _open_many(port: int, count: int, deadline: float) -> list[socket.socket]:
    """``count`` TCP connections started at once (non-blocking connects), all established."""
    sockets = []
    for _ in range(count):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.connect_ex((HOST, port))
        sockets.append(sock)
    selector = selectors.DefaultSelector()
    for sock in sockets:
        selector.register(sock, selectors.EVENT_WRITE)
    pending = len(sockets)
    while pending and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=0.2):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
            selector.unregister(sock)
            pending -= 1
    selector.close()
    assert pending == 0, f"{pending} of {count} connections not established in time"
    return sockets


def _wait_all_closed(sockets: list[socket.socket], deadline: float) -> int:
    """How many of ``sockets`` the server has ended (EOF or reset) by ``deadline``."""
    open_ones = set(sockets)
    while open_ones and time.monotonic() < deadline:
        for sock in list(open_ones):
            try:
                if sock.recv(1024) == b"":
                    open_ones.discard(sock)
            except BlockingIOError:
                pass
            except OSError:
                open_ones.discard(sock)
        time.sleep(0.1)
    return len(sockets) - len(open_ones)


@pytest.mark.skipif(_somaxconn() < 1024,
                    reason="net.core.somaxconn below 1024 caps the listen backlog under a 1,000-connection burst")
def test_a_thousand_half_open_connections_are_all_closed_and_calls_still_flow(
        node: QuickNode, webex: WebexSession, caplog: pytest.LogCaptureFixture) -> None:
    """1,000 connections opened at once that never send a byte: while they are held the
    good client receives a call's events; each is closed by the node within the handshake
    timeout (plus scheduling slack), each refused once, and no descriptor is left behind."""
    caplog.set_level(logging.WARNING, logger="xsp.cti")
    site = node.host_object.listener("xsp1", HOST).site
    assert site is not None
    with open_files_limit(4096) as limit:
        if limit < 2600:
            pytest.skip(f"RLIMIT_NOFILE hard limit {limit} is below what 1,000 connections need")
        fds_before = proc_fd_count(os.getpid())
        started = time.monotonic()
        sockets = _open_many(node.port, 1000, started + 15)
        try:
            call_reaches_webex(node, webex)
            closed = _wait_all_closed(sockets, time.monotonic() + HANDSHAKE_TIMEOUT + 10)
        finally:
            for sock in sockets:
                sock.close()
        assert closed == 1000
        assert site.handshakes_in_progress == 0
        lines = refusal_lines(caplog, 1000)
        assert sum("handshake timed out" in line for line in lines) == 1000
        deadline = time.monotonic() + 5
        while proc_fd_count(os.getpid()) > fds_before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc_fd_count(os.getpid()) <= fds_before
    call_reaches_webex(node, webex)


def test_connections_that_close_before_a_byte_leave_nothing_behind(
        node: QuickNode, webex: WebexSession) -> None:
    """300 connections that send FIN at once (a port scan): the node closes its side of
    each without waiting for the handshake timeout, and keeps serving."""
    site = node.host_object.listener("xsp1", HOST).site
    assert site is not None
    fds_before = proc_fd_count(os.getpid())
    sockets = _open_many(node.port, 300, time.monotonic() + 10)
    try:
        for sock in sockets:
            sock.shutdown(socket.SHUT_WR)
        closed = _wait_all_closed(sockets, time.monotonic() + HANDSHAKE_TIMEOUT * 0.8)
    finally:
        for sock in sockets:
            sock.close()
    assert closed == 300
    assert site.handshakes_in_progress == 0
    deadline = time.monotonic() + 5
    while proc_fd_count(os.getpid()) > fds_before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc_fd_count(os.getpid()) <= fds_before
    call_reaches_webex(node, webex)


# -- what the log says about a hostile certificate -----------------------------------------------

def test_a_client_certificate_name_cannot_forge_a_log_line(
        node: QuickNode, webex: WebexSession, caplog: pytest.LogCaptureFixture,
        tmp_path: Path) -> None:
    """A refused client whose certificate CN holds a newline is logged on one line, the
    newline shown as an escape (the CN comes from the peer)."""
    from xsp_trust import CertificateAuthority
    caplog.set_level(logging.INFO, logger="xsp.cti")
    stranger = CertificateAuthority.new_root("Stranger Root", key_type="ec")
    cert = stranger.issue_client("evil\nCTI forged: accepted everyone", key_type="ec")
    context = ssl.create_default_context(cafile=str(node.pki.partner_ca))
    cert.configure_cert(context)
    context.maximum_version = ssl.TLSVersion.TLSv1_2  # the refusal lands in the handshake
    with _open(node) as raw:
        with pytest.raises(ssl.SSLError):
            with context.wrap_socket(raw, server_hostname=HOST) as tls:
                tls.recv(1)
    [line] = refusal_lines(caplog, 1)
    assert "\n" not in line and "evil\\nCTI forged" in line, line
    call_reaches_webex(node, webex)

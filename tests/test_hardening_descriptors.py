"""A node out of file descriptors: its connections are counted against a limit below
the process's descriptor limit, so a client opening connections without end meets the
limit (each extra connection closed at once, one log line every few seconds) and
``emu status`` still reaches the node; and an accept that fails for want of descriptors
is one log line, not asyncio's traceback per try. Both run in child processes with a
low ``RLIMIT_NOFILE``, so the test process keeps its own descriptors.
"""
from __future__ import annotations

import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import run_xsp
from xsp.testing import free_port

ACCEPT_FAILS = r'''
import asyncio, logging, os, resource, socket, sys
from xsp.listener.gate import quiet_accept_errors

logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(message)s")
resource.setrlimit(resource.RLIMIT_NOFILE, (64, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))


async def main():
    quiet_accept_errors(asyncio.get_running_loop())
    accepted = []
    server = await asyncio.start_server(lambda r, w: accepted.append(w), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))  # queued by the kernel
    taken = []
    try:
        while True:
            taken.append(os.dup(0))
    except OSError:
        pass
    await asyncio.sleep(3.5)  # asyncio tries to accept again and again
    for fd in taken:
        os.close(fd)
    await asyncio.sleep(1.5)
    print("accepted", len(accepted))
    client.close()

asyncio.run(main())
'''


def test_an_accept_failing_for_want_of_descriptors_is_one_line_not_a_traceback_each() -> None:
    result = subprocess.run([sys.executable, "-c", ACCEPT_FAILS], capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout == "accepted 1\n"  # served once descriptors are back
    assert result.stderr.splitlines() == [
        "WARNING cannot accept connections: Too many open files (the process may open 64 "
        "descriptors); trying again each second"]


def _closed(sock: socket.socket) -> bool:
    """Whether the node has closed ``sock`` (EOF or reset); a closed one stays closed."""
    if sock.fileno() == -1:
        return True
    sock.setblocking(False)
    try:
        ended = sock.recv(1) == b""
    except BlockingIOError:
        return False
    except ConnectionError:
        ended = True
    if ended:
        sock.close()
    return ended


def _low_descriptor_limit() -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (160, hard))


def test_a_client_opening_connections_without_end_meets_the_limit_and_status_still_answers(
        tmp_path: Path) -> None:
    port = free_port()
    demo = run_xsp("demo", "--state", str(tmp_path), "--port", str(port), "--no-shell",
                   timeout=120)
    assert demo.returncode == 0, demo.stderr
    state = tmp_path / "state"
    node = subprocess.Popen([sys.executable, "-m", "xsp", "serve", "--state", str(state),
                             "--handshake-timeout", "60"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_low_descriptor_limit)
    held: list[socket.socket] = []
    try:
        deadline = time.monotonic() + 20
        while not (state / "node.sock").exists():
            assert node.poll() is None and time.monotonic() < deadline, node.communicate()
            time.sleep(0.05)
        for _ in range(300):  # never a handshake: each holds a descriptor of the node
            held.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        time.sleep(0.5)
        status = run_xsp("shell", "--state", str(state), "-c", "emu status", timeout=30)
        lines = status.stdout.splitlines()
        assert lines[2] == f"Node process: running in another process (pid {node.pid})", status
        assert lines[4] == (f"  127.0.0.1:{port}  TLS, client certificate required; "
                            f"listening on 127.0.0.1:{port}")
        # asyncio accepts a burst before the first refused connection is closed, so the
        # process may run out for a moment (one log line); it tries again each second.
        deadline = time.monotonic() + 10
        while (closed := sum(_closed(sock) for sock in held)) < 200 \
                and time.monotonic() < deadline:
            time.sleep(0.2)
        log = (state / "xsp.log").read_text()
        assert 200 <= closed < 300, log[-3000:]  # past the limit, closed; the others wait
    finally:
        for sock in held:
            sock.close()
        node.terminate()
        out, err = node.communicate(timeout=30)
    log = (state / "xsp.log").read_text()
    assert "Traceback" not in log and "Traceback" not in err
    refusals = [line for line in log.splitlines() if "its limit (emu limit connections)" in line]
    assert 1 <= len(refusals) <= 2, refusals  # one line every 10 s
    assert refusals[0].endswith("connection closed")
    assert len([line for line in log.splitlines() if "cannot accept" in line]) <= 2

"""`xsp serve`'s live page options, as a real process: the address printed at start,
the feed a script can follow with `websockets`, --no-live, and bad options in one line."""
from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import websockets

from tests.conftest import run_xsp

LINE = re.compile(r"Live page \(read-only\): http://127\.0\.0\.1:(\d+)/")


def serve(state: Path, *options: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "xsp", "serve", "--state", str(state), *options],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def lines_until_serving(proc: subprocess.Popen) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + 20
    while not (lines and lines[-1].startswith("Serving; ")):
        assert time.monotonic() < deadline and proc.poll() is None, (lines, proc.communicate())
        lines.append(proc.stdout.readline().rstrip("\n"))
    return lines


def stop(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=20)
    return out


def test_serve_prints_the_page_and_a_script_follows_its_feed(state):
    proc = serve(state, "--live-port", "0")
    try:
        lines = lines_until_serving(proc)
        (line,) = [l for l in lines if LINE.fullmatch(l)]
        port = int(LINE.fullmatch(line).group(1))

        async def follow() -> dict:
            async with websockets.connect(f"ws://127.0.0.1:{port}/feed") as feed:
                return json.loads(await asyncio.wait_for(feed.recv(), 5))
        snapshot = asyncio.run(follow())
        assert snapshot["type"] == "snapshot"
        assert [(n["name"], n["kind"], n["running"]) for n in snapshot["nodes"]] == [
            ("as1", "AS", True), ("xsp1", "XSP", True)]
        assert snapshot["limits"] == {"timeline": 500, "events": 500, "channel_sets": 200}
    finally:
        assert stop(proc).endswith("Stopped.\n")


def test_no_live_serves_no_page(state):
    proc = serve(state, "--no-live")
    try:
        assert not [l for l in lines_until_serving(proc) if l.startswith("Live page")]
    finally:
        stop(proc)


def test_a_bad_live_port_is_one_line_and_nothing_runs(state):
    result = run_xsp("serve", "--state", str(state), "--live-port", "70000")
    assert (result.returncode, result.stdout, result.stderr) == (
        1, "", "xsp: live page: port 70000 is out of range 0-65535\n")


def test_a_taken_live_port_is_one_line_and_nothing_runs(state):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_xsp("serve", "--state", str(state), "--live-port", str(port))
    assert (result.returncode, result.stdout, result.stderr) == (
        1, "", f"xsp: live page: cannot listen on 127.0.0.1:{port}: Address already in use\n")
    assert not (state / "node.sock").exists()

"""`xsp demo`'s options as a newcomer meets them: the state directory, the port, and the
temporary directory with keys in it."""
from __future__ import annotations

import contextlib
import io
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator


from tests.conftest import run_xsp
from xsp.testing import free_port


def _demo(*args: str, tmpdir: Path) -> subprocess.CompletedProcess[str]:
    """``xsp demo --no-shell ARGS`` with its temporary directories under ``tmpdir``."""
    env = {k: v for k, v in os.environ.items() if k != "XSP_STATE"}
    env["TMPDIR"] = str(tmpdir)
    return subprocess.run([sys.executable, "-m", "xsp", "demo", "--no-shell", *args],
                          capture_output=True, text=True, env=env, timeout=120)


@contextlib.contextmanager
def _held(port: int) -> Iterator[None]:
    """Keep ``port`` taken on 127.0.0.1 (it may already be someone else's: taken either way)."""
    with socket.socket() as holder:
        with contextlib.suppress(OSError):
            holder.bind(("127.0.0.1", port))
            holder.listen()
        yield


def test_a_port_asked_for_that_is_taken_is_refused(tmp_path: Path) -> None:
    port = free_port()
    with _held(port):
        result = _demo("--state", str(tmp_path / "st"), "--port", str(port), tmpdir=tmp_path)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (f"xsp: port {port} is taken on 127.0.0.1; choose another --port, "
                             "or 0 for any free one\n")
    assert not (tmp_path / "st").exists()


def test_a_port_out_of_range_is_refused(tmp_path: Path) -> None:
    result = run_xsp("demo", "--port", "70000")
    assert result.returncode == 2
    assert result.stderr == "xsp: --port 70000 is out of range; give 1-65535, or 0 for any free port\n"


def test_a_directory_with_other_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine\n")
    result = run_xsp("demo", "--state", str(tmp_path), "--no-shell")
    assert result.returncode == 1
    assert result.stderr == (f"xsp: {tmp_path} is not an empty directory; the demo makes its "
                             "state, PKI and procedure in a new or empty one\n")
    assert os.listdir(tmp_path) == ["notes.txt"]


def test_the_default_port_moves_and_says_so_and_keep_keeps_the_directory(tmp_path: Path) -> None:
    """With 8012 taken the demo says which port it took; with --keep its temporary
    directory stays, and the demo said where it is."""
    with _held(8012):
        result = _demo("--keep", tmpdir=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    (made,) = [p for p in tmp_path.iterdir() if p.name.startswith("xsp-demo-")]
    assert lines[0].startswith("Port 8012 is taken on 127.0.0.1; the demo's CTI interface uses ")
    assert lines[1] == f"Demo directory {made}: kept (--keep)"
    port = int(lines[0].rsplit(" ", 1)[1].rstrip("."))
    assert port != 8012
    assert f"add 127.0.0.1 {port} true true true" in result.stdout
    assert (made / "state" / "config.yaml").exists()
    assert (made / "pki" / "webex-client.key").exists()
    assert "Removed" not in result.stdout


def test_a_temporary_directory_is_removed_and_the_demo_says_so(tmp_path: Path) -> None:
    result = _demo("--port", "0", tmpdir=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("The demo's CTI interface uses port ")
    said = re.fullmatch(r"Demo directory (\S+): removed when the demo ends \(--keep keeps it\)",
                        lines[1])
    assert said, lines[1]
    made = Path(said.group(1))
    assert made.parent == tmp_path and made.name.startswith("xsp-demo-")
    assert lines[-1] == f"Removed the demo directory {made} and the keys in it."
    assert list(tmp_path.iterdir()) == []


def _handover(screen: str) -> list[str]:
    """The command lines the demo printed under its hand-over heading."""
    block = screen.split("### From another terminal, while this shell runs", 1)[1]
    block = block.split("The node keeps running while you are in the shell.", 1)[0]
    return [line.strip() for line in block.splitlines() if line.startswith("  ")]


def test_the_commands_the_demo_hands_over_reach_its_node_from_another_process(tmp_path: Path) -> None:
    """`xsp demo` on a terminal ends in its shell and prints how to reach the node from
    another terminal; those exact lines, run by a shell in other processes, watch the
    events, make a call and open a second shell on the node's state. Exiting the demo's
    shell then removes the temporary directory it said it would."""
    import pexpect

    env = {k: v for k, v in os.environ.items() if k != "XSP_STATE"}
    env.update(TMPDIR=str(tmp_path), TERM="xterm", PROMPT_TOOLKIT_NO_CPR="1")
    demo = pexpect.spawn(sys.executable, ["-m", "xsp", "demo", "--port", "0"], env=env,
                         dimensions=(60, 400), encoding="utf-8", timeout=120)
    seen = io.StringIO()
    demo.logfile_read = seen
    try:
        demo.expect("The node keeps running while you are in the shell[^\n]*\n")
        demo.expect("XSP_CLI[^>]*>")
        watch, call, shell = _handover(seen.getvalue())
        assert " webex-client --connect 127.0.0.1:" in watch
        assert call.startswith("XSP_STATE=") and " sim call " in call
        assert shell.startswith("XSP_STATE=") and shell.endswith(" shell")
        child_env = {k: v for k, v in os.environ.items() if k != "XSP_STATE"}
        client = subprocess.Popen(["sh", "-c", "exec " + watch], env=child_env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1.5)  # it subscribes
        made = subprocess.run(["sh", "-c", call + " --answer-after 0.2 --release-after 0.2"],
                              env=child_env, capture_output=True, text=True, timeout=60)
        assert made.returncode == 0, made.stderr
        assert made.stdout.startswith("Call ") and " answered; " in made.stdout
        time.sleep(1.0)
        client.send_signal(signal.SIGINT)
        out, err = client.communicate(timeout=20)
        assert client.returncode == 0, err
        events = [line.split()[1:3] for line in out.splitlines()]
        assert ["alice@example.com", "CallSubscriptionEvent"] in events
        assert ["bob@example.com", "CallReceivedEvent"] in events
        assert ["alice@example.com", "CallReleasedEvent"] in events
        second = subprocess.run(["sh", "-c", shell + " -c 'emu status'"], env=child_env,
                                capture_output=True, text=True, timeout=60)
        assert second.returncode == 0, second.stderr
        assert f"Node process: running in another process (pid {demo.pid})" in second.stdout
        demo.sendline("exit")
        demo.expect("Please confirm")
        demo.sendline("y")
        demo.expect("Removed the demo directory (\\S+) and the keys in it.")
        demo.expect(pexpect.EOF)
    finally:
        demo.close(force=True)
    assert list(tmp_path.iterdir()) == []

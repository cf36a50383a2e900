"""`xsp serve`, `xsp sim` and `xsp webex-client` as real processes on one state."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import run_xsp
from xsp.testing import free_port

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A state configured by the demo, then served by `xsp serve` in its own process."""
    base = tmp_path_factory.mktemp("served")
    port = free_port()
    demo = run_xsp("demo", "--state", str(base), "--port", str(port), "--no-shell", timeout=120)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    proc = subprocess.Popen([sys.executable, "-m", "xsp", "serve", "--state", str(base / "state")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while not (base / "state" / "node.sock").exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    yield base, port, proc
    if proc.poll() is None:
        proc.terminate()
        proc.communicate(timeout=20)


def _client(base: Path, port: int, *extra: str) -> subprocess.Popen:
    pki = base / "pki"
    return subprocess.Popen(
        [sys.executable, "-m", "xsp", "webex-client", "--connect", f"127.0.0.1:{port}",
         "--cert", str(pki / "webex-client.pem"), "--key", str(pki / "webex-client.key"),
         "--ca", str(pki / "partner-ca.pem"), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_second_node_on_the_same_state_is_refused(served):
    base, _, proc = served
    result = run_xsp("serve", "--state", str(base / "state"))
    assert result.returncode == 1
    assert result.stderr == f"xsp: a node already runs on this state (pid {proc.pid})\n"


def test_a_scripted_restart_of_a_served_node_restarts_that_node(served):
    """With `xsp serve` running, `emu restart` in a script restarts it through the control
    socket: no word about a node ending with the script, since this one stays."""
    base, port, _ = served
    result = run_xsp("shell", "--state", str(base / "state"), "-c", "emu restart")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1:] == [
        "Node xsp1 restarted.", "CTI listeners:",
        f"  127.0.0.1:{port}  TLS, client certificate required; listening on 127.0.0.1:{port}"]


def test_sim_call_reaches_a_webex_client_of_the_served_node(served):
    base, port, _ = served
    client = _client(base, port, "--user", "alice@example.com", "--count", "7", "--timeout", "20")
    time.sleep(1.0)  # the client subscribes
    call = run_xsp("sim", "call", "alice@example.com", "bob@example.com", "--answer-after", "0.1",
                   "--release-after", "0.1", "--state", str(base / "state"))
    assert call.returncode == 0, call.stderr
    assert call.stdout.startswith("Call ") and " answered; " in call.stdout
    out, err = client.communicate(timeout=30)
    assert client.returncode == 0, err
    types = [line.split()[2] for line in out.splitlines()]
    assert types == ["CallSubscriptionEvent", "HookStatusEvent", "CallOriginatedEvent",
                     "CallUpdatedEvent", "CallAnsweredEvent", "CallReleasedEvent", "HookStatusEvent"]


def test_sim_run_plays_the_example_scenario(served):
    base, _, _ = served
    result = run_xsp("sim", "run", str(EXAMPLES / "scenario.yaml"), "--state", str(base / "state"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Scenario morning rush: 2 call(s), ")


def test_sim_refuses_an_unknown_user_with_one_line(served):
    base, _, _ = served
    result = run_xsp("sim", "call", "zed@example.com", "bob@example.com", "--state", str(base / "state"))
    assert result.returncode == 1
    assert result.stderr.startswith("Error: unknown user 'zed@example.com': not a user of the Application Server")
    assert len(result.stderr.splitlines()) == 1


def test_sim_without_a_node_says_how_to_start_one(tmp_path):
    result = run_xsp("sim", "call", "alice@example.com", "bob@example.com", "--state", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr == f"xsp: no node runs on {tmp_path} (start one with: xsp serve --state {tmp_path})\n"


def test_a_shell_on_the_state_reaches_the_served_node(served):
    base, port, proc = served
    result = run_xsp("shell", "--state", str(base / "state"), "-c", "emu status")
    lines = result.stdout.splitlines()
    assert lines[2] == f"Node process: running in another process (pid {proc.pid})"
    assert lines[4] == f"  127.0.0.1:{port}  TLS, client certificate required; listening on 127.0.0.1:{port}"


def test_sigterm_ends_the_node_in_order_and_channels_are_told(served):
    """Last in this module: the open channel gets ChannelTerminatedEvent, the node exits 0."""
    base, port, proc = served
    client = _client(base, port, "--user", "bob@example.com", "--timeout", "30")
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert out.rstrip().endswith("Stopped.")
    client_out, client_err = client.communicate(timeout=20)
    assert "CallSubscriptionEvent" in client_out
    assert "ChannelTerminatedEvent" in client_out + client_err
    assert not (base / "state" / "node.sock").exists()

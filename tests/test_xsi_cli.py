"""``xsp webex-client`` as a real subprocess against a server started by the test: the
events of a call printed one per line, JSON lines, clean up on exit, and every failure
one ``xsp:`` line with the real reason and a non-zero status."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests._xsi_support import (WEBEX_CN, ServerThread, credential_files, pki,
                                refusing_tls_server)
from xsp.cti.calls import CallSimulator


def start(port: int, files: dict[str, str], *extra: str) -> subprocess.Popen[str]:
    """The client against the Xsi interface that ``ServerThread`` serves (HTTP streaming
    unless ``extra`` chooses another transport)."""
    env = {k: v for k, v in os.environ.items() if k != "XSP_STATE"}
    if "--transport" not in extra:
        extra = ("--transport", "http", *extra)
    return subprocess.Popen(
        [sys.executable, "-m", "xsp", "webex-client", "--connect", f"127.0.0.1:{port}",
         "--cert", files["cert"], "--key", files["key"], "--ca", files["ca"], *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def finish(process: subprocess.Popen[str], timeout: float = 20) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def wait_for(condition, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_the_client_prints_each_event_of_a_call_then_cleans_up(tmp_path: Path):
    with ServerThread() as server, credential_files(tmp_path) as files:
        hub = server.hub
        assert hub is not None
        process = start(server.port, files, "--user", "alice@example.com",
                        "--user", "bob@example.com", "--count", "13", "--timeout", "20")
        wait_for(lambda: hub.subscription_count == 2 or process.poll() is not None)
        server.call(CallSimulator(hub).run_call("alice@example.com", "bob@example.com",
                                                answer_after=0.01, release_after=0.01))
        status, out, err = finish(process)
        assert (status, err) == (0, "")
        lines = out.splitlines()
        assert lines[:2] == [
            "   1 alice@example.com        CallSubscriptionEvent      hookStatus=On-Hook",
            "   1 bob@example.com          CallSubscriptionEvent      hookStatus=On-Hook"]
        alice = [line.split()[2] for line in lines if line.split()[1] == "alice@example.com"]
        assert alice[1:] == ["HookStatusEvent", "CallOriginatedEvent", "CallUpdatedEvent",
                             "CallAnsweredEvent", "CallReleasedEvent", "HookStatusEvent"]
        assert len(lines) == 13
        assert ("   4 bob@example.com          CallAnsweredEvent          callId=") in "\n".join(lines)
        wait_for(lambda: hub.channel_count == 0 and hub.subscription_count == 0)
        assert hub.stats.acknowledged == 13


def test_json_lines_over_the_websocket_transport(tmp_path: Path):
    with ServerThread() as server, credential_files(tmp_path) as files:
        process = start(server.port, files, "--user", "carol@example.com", "--transport", "ws",
                        "--event", "Do Not Disturb", "--json", "--count", "1", "--timeout", "20")
        status, out, err = finish(process)
        assert (status, err) == (0, "")
        (line,) = out.splitlines()
        event = json.loads(line)
        assert (event["type"], event["sequenceNumber"], event["clientId"], event["targetId"],
                event["fields"]) == ("DoNotDisturbEvent", 1, WEBEX_CN, "carol@example.com",
                                     {"info.active": "false", "info.ringSplash": "false"})


def test_a_server_certificate_from_another_ca_fails_with_the_verification_reason(tmp_path: Path):
    with ServerThread() as server, credential_files(tmp_path, trust=pki().other_root) as files:
        status, out, err = finish(start(server.port, files, "--user", "alice@example.com"))
        assert (status, out) == (1, "")
        assert err == (f"xsp: TLS handshake with 127.0.0.1:{server.port} failed: certificate "
                       "verify failed: unable to get local issuer certificate\n")
        assert server.hub is not None and server.hub.stats.channels_opened == 0


def test_a_refused_client_certificate_fails_with_the_alert_the_server_sent(tmp_path: Path):
    with refusing_tls_server() as port, credential_files(tmp_path) as files:
        status, out, err = finish(start(port, files, "--user", "alice@example.com"))
    assert (status, out) == (1, "")
    assert err.startswith(f"xsp: TLS handshake with 127.0.0.1:{port} failed: "
                          "TLSV1_ALERT_UNKNOWN_CA")
    assert len(err.splitlines()) == 1


def test_a_refused_subscription_fails_with_the_status_and_error_info_summary(tmp_path: Path):
    with ServerThread() as server, credential_files(tmp_path) as files:
        status, out, err = finish(start(server.port, files, "--user", "alice@example.com",
                                        "--user", "zed@example.com"))
        assert (status, out) == (1, "")
        assert err == ("xsp: subscribe zed@example.com: HTTP 404: "
                       "User not found: zed@example.com\n")
        hub = server.hub
        assert hub is not None
        wait_for(lambda: hub.channel_count == 0 and hub.subscription_count == 0)


def test_too_few_events_before_the_timeout_is_a_failure(tmp_path: Path):
    with ServerThread() as server, credential_files(tmp_path) as files:
        status, out, err = finish(start(server.port, files, "--user", "alice@example.com",
                                        "--count", "2", "--timeout", "1"))
        assert status == 1
        assert out.splitlines()[0].split()[2] == "CallSubscriptionEvent"
        assert err == "xsp: timed out after 1 s before 2 events\n"


@pytest.mark.parametrize("args, words", [
    (["--connect", "localhost", "--user", "a", "--plain"], "--connect wants HOST:PORT"),
    (["--connect", "127.0.0.1:1", "--user", "a"], "--cert, --key, --ca required"),
    (["--connect", "127.0.0.1:1", "--user", "a", "--plain", "--count", "0"],
     "--count must be at least 1"),
])
def test_unusable_options_exit_2_with_one_line(xsp, args, words):
    result = xsp("webex-client", *args)
    assert result.returncode == 2
    assert result.stderr.startswith("xsp: ") and words in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_ctrl_c_stops_the_client_cleanly_after_deleting_what_it_made(tmp_path: Path):
    with ServerThread() as server, credential_files(tmp_path) as files:
        hub = server.hub
        assert hub is not None
        process = start(server.port, files, "--user", "alice@example.com")
        wait_for(lambda: hub.stats.acknowledged == 1 or process.poll() is not None)
        process.send_signal(signal.SIGINT)
        status, out, err = finish(process)
        assert (status, err) == (0, "")
        assert out.split()[2] == "CallSubscriptionEvent"
        wait_for(lambda: hub.channel_count == 0 and hub.subscription_count == 0)


def test_a_second_client_of_the_same_application_ends_the_first_ones_channels(tmp_path: Path):
    with ServerThread() as server, credential_files(tmp_path) as files:
        hub = server.hub
        assert hub is not None
        first = start(server.port, files, "--user", "alice@example.com", "--timeout", "30")
        wait_for(lambda: hub.subscription_count == 1 or first.poll() is not None)
        other_app = start(server.port, files, "--user", "bob@example.com", "--count", "1",
                          "--application-id", "another-app", "--timeout", "30")
        assert finish(other_app)[0] == 0  # its own application: the first one runs on
        assert first.poll() is None
        second = start(server.port, files, "--user", "carol@example.com", "--count", "1",
                       "--timeout", "30")
        status, out, err = finish(first)
        assert (status, err) == (1, "xsp: the server terminated the channel "
                                    "(DuplicateChannelSet) after 1 events\n")
        assert out.splitlines()[-1].split()[-2:] == ["ChannelTerminatedEvent",
                                                      "reason=DuplicateChannelSet"]
        assert finish(second)[0] == 0


def start_cti(port: int, files: dict[str, str], *extra: str) -> subprocess.Popen[str]:
    """The client with its default transport: the CTI interface protocol."""
    env = {k: v for k, v in os.environ.items() if k != "XSP_STATE"}
    return subprocess.Popen(
        [sys.executable, "-m", "xsp", "webex-client", "--connect", f"127.0.0.1:{port}",
         "--cert", files["cert"], "--key", files["key"], "--ca", files["ca"], *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def test_by_default_the_client_speaks_the_cti_interface_and_prints_json_lines(tmp_path: Path):
    with ServerThread(interface="cti") as server, credential_files(tmp_path) as files:
        hub = server.hub
        assert hub is not None
        process = start_cti(server.port, files, "--user", "alice@example.com", "--json",
                            "--count", "7", "--timeout", "20")
        wait_for(lambda: hub.subscription_count == 1 or process.poll() is not None)
        server.call(CallSimulator(hub).run_call("alice@example.com", "bob@example.com",
                                                answer_after=0.01, release_after=0.01))
        status, out, err = finish(process)
        assert (status, err) == (0, "")
        events = [json.loads(line) for line in out.splitlines()]
        assert [e["type"] for e in events] == [
            "CallSubscriptionEvent", "HookStatusEvent", "CallOriginatedEvent",
            "CallUpdatedEvent", "CallAnsweredEvent", "CallReleasedEvent", "HookStatusEvent"]
        assert {e["clientId"] for e in events} == {WEBEX_CN}
        wait_for(lambda: hub.channel_count == 0 and hub.subscription_count == 0)
        assert hub.stats.acknowledged == 7


def test_a_refused_request_on_the_cti_interface_is_one_line_with_its_status(tmp_path: Path):
    with ServerThread(interface="cti") as server, credential_files(tmp_path) as files:
        status, out, err = finish(start_cti(server.port, files, "--user", "zed@example.com"))
        assert (status, out) == (1, "")
        assert err == ("xsp: subscribe zed@example.com: status 404: "
                       "User not found: zed@example.com\n")


def test_the_cti_client_against_the_xsi_interface_says_the_port_speaks_another_protocol(
        tmp_path: Path):
    with ServerThread() as server, credential_files(tmp_path) as files:
        status, out, err = finish(start_cti(server.port, files, "--user", "alice@example.com"))
        assert (status, out) == (1, "")
        assert err.startswith(f"xsp: 127.0.0.1:{server.port} does not speak the CTI interface "
                              "protocol: the stream does not continue with an XML document: "
                              "b'HTTP/1.0 400 Bad Request")
        assert len(err.splitlines()) == 1

"""An IPv6 address with its port is written ``[2001:db8::5]:20501`` wherever it is shown:
``2001:db8::5:20501`` would read as an address without a port."""
from __future__ import annotations

import socket

import pytest

from xsp.hostport import host_port

DOC_IP = "2001:db8::5"  # the documentation prefix: never an address of this host


def test_host_port_brackets_ipv6_only() -> None:
    assert host_port("2001:db8::5", 20501) == "[2001:db8::5]:20501"
    assert host_port("::1", 8012) == "[::1]:8012"
    assert host_port("127.0.0.1", 8012) == "127.0.0.1:8012"


def _free_ipv6_loopback_port() -> int:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
            return int(probe.getsockname()[1])
    except OSError:
        pytest.skip("this host has no IPv6 loopback")


def test_the_shell_status_effective_and_doctor_bracket_an_ipv6_interface(xsp, state) -> None:
    port = _free_ipv6_loopback_port()
    result = xsp("shell", "--state", str(state), "-c", "cd /Interface/CTI/CTIServer",
                 "-c", f"add {DOC_IP} {port} true true true", "-c", f"emu effective {DOC_IP}",
                 "-c", "emu restart")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert f"Interface [{DOC_IP}]:{port}" in lines
    assert (f"  [{DOC_IP}]:{port}  TLS, client certificate required; listening on [::1]:{port} "
            f"({DOC_IP} is not an address of this host; bound ::1 instead)") in lines
    doctor = xsp("doctor", "--state", str(state))
    assert ("[PASS] a secure CTI interface requires client certificates: "
            f"[{DOC_IP}]:{port}") in doctor.stdout.splitlines()

"""Shared fixtures: a fresh state directory and the `xsp` command as a real subprocess."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture
def state(tmp_path: Path) -> Path:
    """An empty state directory, owner-only, as a user's first run leaves it.

    It exists because commands that only read (``doctor``) refuse a missing state: a
    mistyped path must not pass for a new, empty one."""
    path = tmp_path / "state"
    path.mkdir(mode=0o700)
    return path


def run_xsp(*args: str, input: str | None = None, cwd: Path | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``python -m xsp ARGS`` with standard input from ``input`` (never a terminal)."""
    env = {k: v for k, v in os.environ.items() if k != "XSP_STATE"}
    return subprocess.run([sys.executable, "-m", "xsp", *args], input=input or "",
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout)


@pytest.fixture
def xsp():
    return run_xsp


@pytest.fixture
def listener():
    """A CTI listener (TLSSite) with the listener tests' default server context: (host, port)."""
    from _listener_support import running_listener, server_context  # the name the tests use
    with running_listener(server_context()) as running:
        yield running

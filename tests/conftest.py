"""Shared fixtures: a fresh state directory and the `xsp` command as a real subprocess."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture
def state(tmp_path: Path) -> Path:
    """A new state (one AS, one XSP, nothing configured), as a first change leaves it.

    Made here because the commands only read a state: ``doctor`` refuses a missing one
    (a mistyped path must not pass for a new, empty state), and a shell that changes
    nothing creates nothing."""
    from xsp.config.store import Store
    path = tmp_path / "state"
    Store(path).load()
    return path


def run_xsp(*args: str, input: str | None = None, cwd: Path | None = None,
            timeout: float = 60, env: dict[str, str | None] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m xsp ARGS`` with standard input from ``input`` (never a terminal);
    ``env`` sets (or, with None, removes) variables of the inherited environment."""
    overlay = env or {}
    env = {k: v for k, v in os.environ.items() if k != "XSP_STATE" and k not in overlay}
    env.update({k: v for k, v in overlay.items() if v is not None})
    return subprocess.run([sys.executable, "-m", "xsp", *args], input=input or "",
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout)


@pytest.fixture
def xsp():
    """The ``xsp`` command as a real subprocess: ``xsp(*args, input=...)`` (see ``run_xsp``)."""
    return run_xsp


@pytest.fixture
def listener():
    """A CTI listener (TLSSite) with the listener tests' default server context: (host, port)."""
    from _listener_support import running_listener, server_context  # the name the tests use
    with running_listener(server_context()) as running:
        yield running

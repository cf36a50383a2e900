"""uvloop is the node's loop where it is installed; the standard library's loop, the
fallback, still runs the TLS listener through its whole test module."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from xsp.node import loop as event_loop

TESTS = Path(__file__).parent


def test_the_loop_is_uvloop_where_installed_and_asyncio_when_asked(monkeypatch):
    pytest.importorskip("uvloop")
    monkeypatch.delenv(event_loop.LOOP_VARIABLE, raising=False)
    assert event_loop.loop_kind() == "uvloop"
    made = event_loop.new_event_loop()
    try:
        assert type(made).__module__.startswith("uvloop")
    finally:
        made.close()
    monkeypatch.setenv(event_loop.LOOP_VARIABLE, "asyncio")
    assert event_loop.loop_kind() == "asyncio"
    made = event_loop.new_event_loop()
    try:
        assert type(made).__module__.startswith("asyncio")
    finally:
        made.close()


def test_run_runs_a_coroutine_on_the_chosen_loop(monkeypatch):
    monkeypatch.setenv(event_loop.LOOP_VARIABLE, "asyncio")

    async def which() -> str:
        return type(asyncio.get_running_loop()).__module__

    assert event_loop.run(which()).startswith("asyncio")


@pytest.mark.parametrize("module", ["test_listener_refusals.py", "test_listener_transport.py"])
def test_the_listener_passes_its_tests_on_the_standard_library_loop(module):
    env = {**os.environ, event_loop.LOOP_VARIABLE: "asyncio"}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                             str(TESTS / module)], env=env, capture_output=True, text=True,
                            timeout=600, cwd=TESTS.parent)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]

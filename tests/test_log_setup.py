"""Logging to the state's xsp.log is set up once, however often a command asks."""
from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from xsp.commands.shell import log_to_state
from xsp.config.store import Store


@pytest.fixture
def root_handlers() -> Iterator[list[logging.Handler]]:
    """The root logger's handlers before the test; any handler the test adds is removed after it."""
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    yield before
    for handler in root.handlers[:]:
        if handler not in before:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


def test_a_second_call_adds_no_second_handler(tmp_path: Path,
                                               root_handlers: list[logging.Handler]) -> None:
    store = Store(tmp_path / "state")
    log_to_state(store)
    log_to_state(store)
    logging.getLogger("xsp.test").info("once")
    added = [h for h in logging.getLogger().handlers if h not in root_handlers]
    assert len(added) == 1
    added[0].flush()
    lines = (store.dir / "xsp.log").read_text(encoding="utf-8").splitlines()
    assert [line.split(" ", 2)[2] for line in lines] == ["xsp.test INFO once"]


def test_another_state_gets_its_own_log(tmp_path: Path,
                                        root_handlers: list[logging.Handler]) -> None:
    log_to_state(Store(tmp_path / "a"))
    log_to_state(Store(tmp_path / "b"))
    added = [h for h in logging.getLogger().handlers if h not in root_handlers]
    assert sorted(Path(h.baseFilename).parent.name for h in added
                  if isinstance(h, logging.FileHandler)) == ["a", "b"]

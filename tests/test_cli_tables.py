"""BroadWorks list output: columns sized to their data, a blank line after the count, and
the question before a list longer than the threshold (100 entries, the emulator's choice)."""
from __future__ import annotations

from pathlib import Path

from xsp_cli_contexts import ciphers
from xsp.cli import render
from xsp.cli.engine import LIST_CONFIRM_THRESHOLD, Engine
from xsp.config.store import Store
from xsp.testing import shell_engine


def test_columns_are_as_wide_as_their_widest_value_or_header_and_a_blank_line_ends_the_list():
    assert render.table(["Alias", "Owner"], [["a", "Internal Private Root"],
                                             ["webexclientissuing2023", "x"]]) == [
        "                   Alias                  Owner",
        "===============================================",
        "                       a  Internal Private Root",
        "  webexclientissuing2023                      x",
        "",
        "2 entries found.",
        "",
    ]


def test_an_empty_list_has_its_headers_underline_and_count():
    assert render.table(["Interface IP", "Protocol"], []) == [
        "  Interface IP  Protocol", "========================", "", "0 entry found.", ""]


def _system_ciphers(tmp_path: Path, count: int) -> Engine:
    """An engine at the JSSE cipher list, which holds ``count`` suites."""
    engine = shell_engine(Store(tmp_path / "state"))
    assert engine.execute("cd /System/SSLCommonSettings/JSSE/Ciphers").ok
    current = engine.execute("get")
    listed = int(current.lines[-2].split()[0])
    extra = [n for n in ciphers.names() if n not in current.text][: count - listed]
    assert engine.execute(";".join(f"add {name}" for name in extra)).ok
    return engine


def test_a_list_over_the_threshold_asks_before_it_is_shown(tmp_path: Path):
    engine = _system_ciphers(tmp_path, LIST_CONFIRM_THRESHOLD + 1)
    asked = engine.execute("get")
    assert (asked.lines, asked.ok) == ([], True)
    assert engine.prompt == "About to access 101 entries. Continue? Please confirm (Yes, Y, No, N): "
    assert engine.execute("maybe").lines == [
        "Please answer Yes, Y, No or N; 'maybe' was read as the answer, not run as a command."]
    assert engine.prompt.startswith("About to access 101 entries.")
    shown = engine.execute("y")
    assert shown.lines[-2:] == ["101 entries found.", ""] and len(shown.lines) == 2 + 101 + 3
    assert engine.prompt == "XSP_CLI/System/SSLCommonSettings/JSSE/Ciphers> "
    engine.execute("get")
    assert engine.execute("No").lines == []
    assert engine.prompt == "XSP_CLI/System/SSLCommonSettings/JSSE/Ciphers> "


def test_a_list_at_the_threshold_is_shown_at_once(tmp_path: Path):
    engine = _system_ciphers(tmp_path, LIST_CONFIRM_THRESHOLD)
    shown = engine.execute("get")
    assert shown.lines[-2:] == ["100 entries found.", ""] and not engine.awaiting_answer

"""`xsp shell` on a real terminal: prompts, editing keys, completion and history.

Each test starts `python -m xsp shell` on a pseudo-terminal with pexpect and reads what a
user would see. prompt_toolkit paints the screen with cursor movements (a prompt's
trailing space is a cursor step, a completion rewrites only the changed cells), so the
raw byte stream is replayed on a small screen model and the tests assert visible lines.
"""
from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path
from typing import Callable

import pexpect
import pytest

WARN = "*** Warning: BroadWorks needs to be restarted for the changes to take effect ***"
CONFIRM = "Please confirm (Yes, Y, No, N): "
ENDING = "This session is now ending..."
ROOT = "XSP_CLI> "
CTISERVER = "XSP_CLI/Interface/CTI/CTIServer> "
WAIT = 5.0  # seconds for one screen change; the shell answers in well under one

_ESCAPE = re.compile(r"\x1b(?:\[([0-9;?]*)([@-~])|\][^\x07]*\x07|[()][0-9A-Za-z]|[=>78])")


class Screen:
    """The subset of an xterm that prompt_toolkit uses without full-screen mode.

    Rows are unbounded (no scrolling), which is enough because prompt_toolkit only
    moves the cursor relative to where it is.
    """

    def __init__(self, width: int) -> None:
        self.width = width
        self.rows: list[list[str]] = [[]]
        self.row = 0
        self.col = 0
        self._pending = ""

    def feed(self, data: str) -> None:
        data = self._pending + data
        self._pending = ""
        i = 0
        while i < len(data):
            ch = data[i]
            if ch == "\x1b":
                match = _ESCAPE.match(data, i)
                if match is None:
                    if len(data) - i < 64:  # an escape sequence cut by the read
                        self._pending = data[i:]
                        return
                    i += 1
                    continue
                self._escape(match.group(1), match.group(2))
                i = match.end()
                continue
            if ch == "\r":
                self.col = 0
            elif ch == "\n":
                self._move_to(self.row + 1, self.col)
            elif ch == "\b":
                self.col = max(0, self.col - 1)
            elif ch >= " ":
                self._put(ch)
            i += 1

    def _escape(self, params: str | None, final: str | None) -> None:
        if final is None or (params or "").startswith("?"):
            return  # modes (cursor visibility, bracketed paste, wrap): nothing visible
        n = int(params.split(";")[0] or 1) if params and params[0].isdigit() else 1
        if final == "A":
            self._move_to(max(0, self.row - n), self.col)
        elif final == "B":
            self._move_to(self.row + n, self.col)
        elif final == "C":
            self.col = min(self.width - 1, self.col + n)
        elif final == "D":
            self.col = max(0, self.col - n)
        elif final == "K":
            del self.rows[self.row][self.col:]
        elif final == "J":
            del self.rows[self.row][self.col:]
            del self.rows[self.row + 1:]

    def _move_to(self, row: int, col: int) -> None:
        while len(self.rows) <= row:
            self.rows.append([])
        self.row, self.col = row, col

    def _put(self, ch: str) -> None:
        line = self.rows[self.row]
        while len(line) <= self.col:
            line.append(" ")
        line[self.col] = ch
        self.col = min(self.width - 1, self.col + 1)

    def line(self, row: int) -> str:
        return "".join(self.rows[row]).rstrip() if row < len(self.rows) else ""

    @property
    def cursor_text(self) -> str:
        """The cursor's row up to the cursor: a prompt keeps its trailing space here."""
        return "".join(self.rows[self.row]).ljust(self.col)[: self.col]


class Shell:
    """One `xsp shell` on a pseudo-terminal, seen through a Screen."""

    def __init__(self, state: Path, *args: str) -> None:
        env = {k: v for k, v in os.environ.items() if k != "XSP_STATE"}
        # xterm is what partners have; without cursor-position requests prompt_toolkit
        # does not wait for an answer that pexpect would never send.
        env.update(TERM="xterm", PROMPT_TOOLKIT_NO_CPR="1")
        self.screen = Screen(200)
        self.child = pexpect.spawn(sys.executable, ["-m", "xsp", "shell", "--state", str(state), *args],
                                   env=env, dimensions=(40, 200), encoding="utf-8", timeout=WAIT)
        # pexpect's default pauses (before each send, after a kill) would dominate the run time.
        self.child.delaybeforesend = None
        self.child.delayafterterminate = 0.01
        self.status: int | None = None

    def _read(self, until: float) -> bool:
        """Feed what arrives before ``until`` to the screen; False once the shell has ended."""
        try:
            self.screen.feed(self.child.read_nonblocking(65536, timeout=max(0.0, until - time.monotonic())))
        except pexpect.TIMEOUT:
            pass
        except pexpect.EOF:
            return False
        return True

    def wait_until(self, ready: Callable[[], bool], what: str) -> None:
        """Read the terminal until ``ready()`` holds; fail with the screen after WAIT."""
        deadline = time.monotonic() + WAIT
        while not ready():
            if time.monotonic() > deadline or not self._read(deadline):
                raise AssertionError(f"{what} never happened; screen:\n{self.dump()}")

    def wait_cursor(self, text: str, below: int = -1) -> None:
        """Until the cursor's row reads ``text`` (up to the cursor) on a row after ``below``."""
        self.wait_until(lambda: self.screen.row > below and self.screen.cursor_text == text,
                        f"the cursor line reading {text!r}")

    def type(self, text: str, expect: str) -> None:
        """Type keys without Enter and wait until the edited line reads ``expect``."""
        self.child.send(text)
        self.wait_cursor(expect, below=self.screen.row - 1)

    def enter(self, line: str, prompt: str) -> list[str]:
        """Type ``line`` and Enter; the lines printed before the next ``prompt``."""
        start = self.screen.row
        self.child.send(line + "\r")
        self.wait_cursor(prompt, below=start)
        return [self.screen.line(r) for r in range(start + 1, self.screen.row)]

    def lines_below_cursor(self) -> list[str]:
        return [self.screen.line(r) for r in range(self.screen.row + 1, len(self.screen.rows))]

    def wait_end(self) -> list[str]:
        """Until the shell exits; the screen lines from the cursor row down."""
        start = self.screen.row
        deadline = time.monotonic() + WAIT
        while self._read(deadline):
            if time.monotonic() > deadline:
                raise AssertionError(f"the shell did not end; screen:\n{self.dump()}")
        self.child.wait()
        self.status = self.child.exitstatus
        lines = [self.screen.line(r) for r in range(start, len(self.screen.rows))]
        while lines and not lines[-1]:
            lines.pop()  # the row the last newline opened
        return lines

    def dump(self) -> str:
        return "\n".join(self.screen.line(r) for r in range(len(self.screen.rows)))

    def close(self) -> None:
        if self.child.isalive():
            self.child.terminate(force=True)


@pytest.fixture
def shell(state: Path):
    """Start a shell on ``state`` with optional arguments; every shell is killed afterwards."""
    shells: list[Shell] = []

    def start(*args: str) -> Shell:
        # The shell's live page has its own tests; here it would only take ports.
        if not any(a.startswith("--live") for a in args):
            args = (*args, "--no-live")
        started = Shell(state, *args)
        shells.append(started)
        return started

    yield start
    for started in shells:
        started.close()


def root_shell(shell) -> Shell:
    started = shell()
    started.wait_cursor(ROOT)
    return started


def test_the_live_page_address_comes_before_the_banner_and_the_page_answers(shell):
    started = shell("--live-port", "0")
    started.wait_cursor(ROOT)
    first = started.screen.line(0)
    match = re.fullmatch(r"Live page \(read-only\): http://127\.0\.0\.1:(\d+)/", first)
    assert match, first
    assert started.screen.line(1) == "=" * 70
    import urllib.request
    with urllib.request.urlopen(f"http://127.0.0.1:{match.group(1)}/", timeout=5) as page:
        assert b"<title>xsp live</title>" in page.read()


def test_banner_then_root_prompt(shell):
    """The bwcli banner is printed, then the cursor waits after `XSP_CLI> `."""
    started = shell()
    started.wait_cursor(ROOT)
    assert [started.screen.line(r) for r in range(started.screen.row)] == [
        "=" * 70,
        "BroadWorks Command Line Interface",
        "Type HELP for more information",
        "=" * 70,
    ]


def test_abbreviated_levels_joined_by_semicolons_change_the_prompt(shell):
    """`int;cti;ctis` enters Interface/CTI/CTIServer; `cd ..` and `cd /` come back up."""
    started = root_shell(shell)
    assert started.enter("int;cti;ctis", CTISERVER) == []
    assert started.enter("cd ..", "XSP_CLI/Interface/CTI> ") == []
    assert started.enter("SSLC;CLIENTA", "XSP_CLI/Interface/CTI/SSLCommonSettings/ClientAuthentication> ") == []
    assert started.enter("cd /", ROOT) == []


def test_command_output_is_printed_before_the_next_prompt(shell):
    """`add` answers `...Done` and the restart warning; `g` prints the BroadWorks table."""
    started = root_shell(shell)
    started.enter("int;cti;ctis", CTISERVER)
    assert started.enter("add 127.0.0.1 8012 false false false", CTISERVER) == ["...Done", WARN]
    assert started.enter("g", CTISERVER) == [
        "  Interface IP  Port  Secure  Server Certificate  Client Auth Req",
        "=================================================================",
        "     127.0.0.1  8012   false               false            false",
        "",
        "1 entry found.",
        "",
    ]


def test_bad_input_prints_one_error_line_and_the_session_continues(shell):
    """`add` with a bad IP prints one line, adds nothing, and the same prompt comes back."""
    started = root_shell(shell)
    started.enter("int;cti;ctis", CTISERVER)
    assert started.enter("add 1.2.3 8012 false false false", CTISERVER) == [
        "Error: interfaceIp: 1.2.3 is not an IP address; expected an IPv4 or IPv6 address"]
    assert started.enter("get", CTISERVER)[-2:] == ["0 entry found.", ""]


def test_exit_asks_to_confirm_no_stays_yes_ends_with_status_0(shell):
    """`exit` asks; `No` keeps the level; `quit` then `Y` says the session ends and exits 0."""
    started = root_shell(shell)
    started.enter("int;cti", "XSP_CLI/Interface/CTI> ")
    assert started.enter("exit", CONFIRM) == []
    assert started.enter("No", "XSP_CLI/Interface/CTI> ") == []
    assert started.enter("quit", CONFIRM) == []
    started.child.send("Y\r")
    assert started.wait_end()[-2:] == [CONFIRM + "Y", ENDING]
    assert started.status == 0


def test_ctrl_d_ends_the_session_with_status_0(shell):
    """Ctrl-D at the prompt ends without the question, saying the session ends."""
    started = root_shell(shell)
    started.child.sendcontrol("d")
    assert ENDING in started.wait_end()
    assert started.status == 0


def test_ctrl_c_abandons_a_half_typed_line(shell):
    """Ctrl-C drops the line being typed: nothing of it runs and the same prompt returns."""
    started = root_shell(shell)
    started.type("int;cti;ctis;add 127.0.0.1 8012 false false false",
                 ROOT + "int;cti;ctis;add 127.0.0.1 8012 false false false")
    row = started.screen.row
    started.child.sendcontrol("c")
    started.wait_cursor(ROOT, below=row)
    assert started.enter("int;cti;ctis;get", CTISERVER)[-2:] == ["0 entry found.", ""]


def test_tab_completes_a_level_name(shell):
    """`Inter<TAB>` becomes `Interface ` on the line: a unique match ends with a space."""
    started = root_shell(shell)
    started.type("Inter\t", ROOT + "Interface ")


def test_tab_completes_a_command_and_an_emulator_command(shell):
    """`sslU<TAB>` becomes `sslUpdate` in Certificates; `emu res<TAB>` becomes `emu restart`."""
    started = root_shell(shell)
    prompt = "XSP_CLI/Interface/CTI/CTIServer/SSLSettings/Certificates> "
    started.enter("int;cti;ctis;ssl;cert", prompt)
    started.type("sslU\t", prompt + "sslUpdate ")
    started.child.sendcontrol("c")
    started.wait_cursor(prompt, below=started.screen.row)
    started.type("emu res\t", prompt + "emu restart ")


def test_tab_shows_the_protocol_choices(shell):
    """`add 127.0.0.1 TLSv1.<TAB>` lists TLSv1.1, TLSv1.2 and TLSv1.3 under the line."""
    started = root_shell(shell)
    started.enter("int;cti;ctis;add 127.0.0.1 8012 false false false", CTISERVER)
    prompt = "XSP_CLI/Interface/CTI/CTIServer/SSLSettings/Protocols> "
    started.enter("ssl;prot", prompt)
    started.type("add 127.0.0.1 TLSv1.\t", prompt + "add 127.0.0.1 TLSv1.")

    def menu() -> list[str]:
        return [line.strip() for line in started.lines_below_cursor() if line.strip()]

    started.wait_until(lambda: "TLSv1.3" in menu(), "a completion menu")
    assert menu() == ["TLSv1.1", "TLSv1.2", "TLSv1.3"]
    assert started.enter("2", prompt) == ["...Done", WARN]


def test_tab_completes_a_configured_interface_ip(shell):
    """After `add ` in an interface's Protocols level, TAB writes the configured IP."""
    started = root_shell(shell)
    started.enter("int;cti;ctis;add 127.0.0.1 8012 false false false", CTISERVER)
    started.type("ssl;prot;add \t", CTISERVER + "ssl;prot;add 127.0.0.1 ")
    assert started.enter("TLSv1.2", "XSP_CLI/Interface/CTI/CTIServer/SSLSettings/Protocols> ") == [
        "...Done", WARN]


def test_up_arrow_recalls_a_line_of_the_previous_session(shell, state):
    """History is kept in `<state>/history`: a line run in one session comes back with Up in the next."""
    first = root_shell(shell)
    first.enter("int;cti;ctis", CTISERVER)
    first.child.sendcontrol("d")
    first.wait_end()
    assert "int;cti;ctis" in (state / "history").read_text(encoding="utf-8")

    second = root_shell(shell)
    second.type("\x1b[A", ROOT + "int;cti;ctis")
    assert second.enter("", CTISERVER) == []


def test_answers_to_the_confirm_question_stay_out_of_history(shell):
    """Up recalls commands, not the `Y` or `N` typed to confirm."""
    first = root_shell(shell)
    first.enter("int;cti", "XSP_CLI/Interface/CTI> ")
    first.enter("exit", CONFIRM)
    first.enter("N", "XSP_CLI/Interface/CTI> ")
    first.enter("exit", CONFIRM)
    first.child.send("y\r")
    first.wait_end()

    second = root_shell(shell)
    second.type("\x1b[A", ROOT + "exit")
    second.type("\x1b[A", ROOT + "int;cti")


def test_node_option_opens_the_application_server_cli(shell):
    """`--node as1` prompts `AS_CLI> ` and walks the AS tree."""
    started = shell("--node", "as1")
    started.wait_cursor("AS_CLI> ")
    assert started.enter("sys;cli", "AS_CLI/System/ClientIdentity> ") == []


def test_ctrl_c_at_the_exit_question_cancels_the_exit(shell):
    """Ctrl-C while `exit` waits for Yes or No: no exit, the command prompt returns."""
    started = root_shell(shell)
    started.enter("int;cti", "XSP_CLI/Interface/CTI> ")
    assert started.enter("exit", CONFIRM) == []
    row = started.screen.row
    started.child.sendcontrol("c")
    started.wait_cursor("XSP_CLI/Interface/CTI> ", below=row)
    assert started.enter("ctis;get", CTISERVER)[-2:] == ["0 entry found.", ""]
    assert started.child.isalive()

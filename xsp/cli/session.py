"""Running the engine: an interactive prompt_toolkit session, a plain line-by-line
session for expect-style automation, or a scripted transcript."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Callable, Iterable, Protocol, TextIO

from xsp.cli import render
from xsp.cli.engine import Result


class ShellEngine(Protocol):
    """What a session needs of an engine: the BroadWorks one or the CUCM one."""
    finished: bool

    @property
    def prompt(self) -> str: ...

    @property
    def awaiting_answer(self) -> bool: ...

    def execute(self, line: str) -> Result: ...


def run_script(engine: ShellEngine, lines: Iterable[str], out: TextIO) -> int:
    """Each line as a transcript: the prompt and the line, then the answer.

    Lines starting with ``#`` are comments of a procedure file and are skipped.
    Returns 0 when every command succeeded, 1 otherwise.
    """
    status = 0
    for raw in lines:
        line = raw.rstrip("\r\n")
        if line.lstrip().startswith("#"):
            continue
        out.write(engine.prompt + line + "\n")
        result = engine.execute(line)
        if result.lines:
            out.write(result.text + "\n")
        out.flush()
        if not result.ok:
            status = 1
        if engine.finished:
            break
    if engine.awaiting_answer:
        # The input ended on a question: show it, unanswered, as the transcript's last line.
        out.write(engine.prompt.rstrip() + "\n")
    return status


def banner_of(engine: ShellEngine) -> str:
    """BroadWorks' banner, or the CUCM platform CLI's."""
    from xsp.cli.cucm_engine import CucmEngine
    return engine.banner if isinstance(engine, CucmEngine) else render.BANNER


def plain_wanted(plain: bool = False) -> bool:
    """``--plain`` given, or a terminal that says it can do nothing (``TERM=dumb``)."""
    return plain or os.environ.get("TERM", "") == "dumb"


def run_plain(engine: ShellEngine, out: TextIO | None = None, inp: TextIO | None = None) -> int:
    """A session an expect script can drive: the prompt is its literal text (ending in
    ``> ``, or the question), written as is, and a line is read with the terminal's own
    line editing. No cursor-position request, no colour, no escape code of any kind.
    """
    out = out or sys.stdout
    inp = inp or sys.stdin
    out.write(banner_of(engine) + "\n")
    while not engine.finished:
        out.write(engine.prompt)
        out.flush()
        try:
            line = inp.readline()
        except KeyboardInterrupt:
            out.write("\n")  # Ctrl-C abandons the line, as in bwcli
            continue
        if not line:
            out.write("\n" + render.ENDING + "\n")  # end of input ends the session
            break
        result = engine.execute(line.rstrip("\r\n"))
        if result.lines:
            out.write(result.text + "\n")
    out.flush()
    return 0


def run_interactive(engine: ShellEngine, history_file: Path, *, plain: bool = False,
                    first_prompt: Callable[[], None] | None = None) -> int:
    """``first_prompt`` is called once the first prompt is on the screen (the shell starts
    its node then, so the prompt does not wait for the node's start)."""
    if plain_wanted(plain):
        if first_prompt is not None:
            first_prompt()
        return run_plain(engine)
    from prompt_toolkit import PromptSession
    from prompt_toolkit.completion import Completer
    from prompt_toolkit.history import DummyHistory

    from xsp.cli.completer import CLICompleter
    from xsp.cli.cucm_engine import CucmEngine
    from xsp.cli.engine import Engine
    from xsp.cli.history import StateHistory

    # Each CLI brings its own banner and completion: BroadWorks levels, or CUCM's words.
    completer: Completer
    print(banner_of(engine))
    if isinstance(engine, CucmEngine):
        completer = engine.completer()
    else:
        assert isinstance(engine, Engine)
        completer = CLICompleter(engine)
    commands: PromptSession[str] = PromptSession(
        history=StateHistory(history_file),
        completer=completer,
        complete_while_typing=False,
    )
    # Answers to a question go through a session of their own: a `Y` recalled with Up in a
    # later session would answer nothing, and commands are no completions for `Yes, Y, No, N`.
    answers: PromptSession[str] = PromptSession(history=DummyHistory())
    if first_prompt is not None:
        started = first_prompt

        def drawn(_: object) -> None:
            commands.app.after_render -= drawn
            started()

        commands.app.after_render += drawn
    # An interactive session ends with status 0: a mistyped command is not a failure.
    while not engine.finished:
        prompt = engine.prompt
        session = answers if engine.awaiting_answer else commands
        try:
            line = session.prompt(prompt)
        except KeyboardInterrupt:
            # Ctrl-C abandons the line, as in bwcli; at exit's question it answers No.
            engine.cancel_question()
            continue
        except EOFError:
            print(render.ENDING)  # Ctrl-D ends the session without the question
            break
        result = engine.execute(line)
        if result.lines:
            print(result.text)
    sys.stdout.flush()
    return 0

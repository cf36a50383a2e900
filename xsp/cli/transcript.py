"""Transcripts: a session recorded as a method of procedure, and its replay.

A transcript is what the shell prints: each command after the prompt it was typed at,
then the answer. Lines starting with ``#`` are comments. The prompt says which CLI a
command belongs to (``AS_CLI``, ``XSP_CLI``, ``ADP_CLI``, a CUCM node's ``admin:``), so
one file can hold the Application Server step and the XSP|ADP steps of a procedure, in
order. A question's answer follows the question as it was asked.
"""
from __future__ import annotations

import datetime as dt
import difflib
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, TextIO

from xsp_cli_contexts.cucm import load_platform
from xsp.cli import render
from xsp.cli.lines import RecordingEngine

# BroadWorks prompts, the CUCM platform prompt, then the questions either CLI asks.
_QUESTIONS = [re.escape(render.CONFIRM.rstrip()) + " ?"] + sorted(
    {re.escape(c.confirm) for c in load_platform().commands if c.confirm is not None}, key=len,
    reverse=True)
PROMPT = re.compile(r"^((AS|XSP|ADP)_CLI(?:/[^>\s]*)?> |(admin):|" + "|".join(_QUESTIONS) + r")(.*)$")


class TranscriptError(ValueError):
    pass


@dataclass
class Entry:
    line_number: int
    prompt: str
    command: str
    answer: list[str] = field(default_factory=list)

    @property
    def cli(self) -> str | None:
        """``AS``, ``XSP``, ``ADP`` or ``CUCM``; None for the answer to a question."""
        match = PROMPT.match(self.prompt)
        if match is None:
            return None
        return match.group(2) or ("CUCM" if match.group(3) else None)


def _regular_or_missing(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except FileNotFoundError:
        return True


class Recorder:
    """Appends each command and its answer to a file, flushed at once: a crash keeps it."""

    def __init__(self, path: Path, state_dir: Path, node: str | None = None) -> None:
        """``node``: the node the session opened, named in the replay hint."""
        self.path = Path(path)
        state = Path(state_dir).resolve()
        target = self.path.resolve()
        if target == state or state in target.parents:
            # Appending a transcript to config.yaml or a key would damage the state.
            raise TranscriptError(f"{path} is inside the state directory {state_dir}; "
                                  "record to a file outside it")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK
                     | os.O_CLOEXEC, 0o644) if _regular_or_missing(self.path) else -1
        if fd < 0 or not stat.S_ISREG(os.fstat(fd).st_mode):
            if fd >= 0:
                os.close(fd)
            # A FIFO would block the shell until someone reads it; a device is no record.
            raise TranscriptError(f"{path} is not a regular file; record to a regular file")
        os.set_blocking(fd, True)
        new = os.fstat(fd).st_size == 0
        self._file: TextIO = os.fdopen(fd, "a", encoding="utf-8")
        if new:
            stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
            on_node = f" --node {node}" if node else ""
            self._file.write(f"# xsp transcript (method of procedure), recorded {stamp}\n"
                             f"# state {state_dir}; replay with: xsp replay {self.path.name} "
                             f"--state DIR{on_node}\n")
            self._file.flush()

    def write(self, prompt: str, line: str, answer: list[str]) -> None:
        self._file.write(prompt + line + "\n")
        for text in answer:
            self._file.write(text + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def parse(text: str) -> list[Entry]:
    entries: list[Entry] = []
    for number, raw in enumerate(text.splitlines(), 1):
        if raw.startswith("#") and (not entries or not entries[-1].answer):
            continue
        match = PROMPT.match(raw)
        if match:
            prompt = match.group(1)
            if prompt.startswith("Please confirm"):
                prompt = render.CONFIRM
            entries.append(Entry(number, prompt, match.group(4)))
        elif entries:
            entries[-1].answer.append(raw)
        elif raw.strip():
            raise TranscriptError(f"line {number}: expected a prompt such as XSP_CLI> or admin: "
                                  f"before any answer, got {raw[:60]!r}")
    if not entries:
        raise TranscriptError("no command in the transcript (lines start with a prompt such as "
                              "XSP_CLI> or admin:)")
    return entries


@dataclass
class Difference:
    entry: Entry
    prompt: str  # where the replay typed it
    answer: list[str]

    def render(self) -> list[str]:
        lines = [f"line {self.entry.line_number}: {self.entry.prompt}{self.entry.command}"]
        if self.prompt != self.entry.prompt:
            lines.append(f"  recorded at prompt {self.entry.prompt!r}, replayed at {self.prompt!r}")
        diff = difflib.unified_diff(self.entry.answer, self.answer, "recorded", "replayed",
                                    lineterm="", n=1)
        lines.extend("  " + d for d in list(diff)[2:])
        return lines


def replay(entries: list[Entry], engines: Mapping[str, RecordingEngine]) -> list[Difference]:
    """Run each command on the engine of its CLI and collect the answers that differ."""
    differences = []
    current: RecordingEngine | None = None
    for entry in entries:
        engine = engines.get(entry.cli) if entry.cli else current
        if engine is None:
            hint = f" (add one with: emu addnode NAME {entry.cli})" if entry.cli != "AS" else ""
            raise TranscriptError(f"line {entry.line_number}: no {entry.cli} node in this state{hint}")
        current = engine
        prompt = engine.prompt
        result = engine.execute(entry.command)
        if prompt != entry.prompt or result.lines != entry.answer:
            differences.append(Difference(entry, prompt, result.lines))
    return differences

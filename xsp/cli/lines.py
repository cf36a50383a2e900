"""What every CLI engine (BroadWorks or CUCM) does with a line around its own grammar:
text that is not UTF-8 is refused before anything reads it, and the line is recorded
with its answer when a recording runs."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from xsp.config import statedir

if TYPE_CHECKING:
    from xsp.cli.transcript import Recorder


@dataclass
class Result:
    lines: list[str] = field(default_factory=list)
    ok: bool = True

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def not_text(line: str) -> Result | None:
    """The refusal of a line that is not UTF-8 text, or None for a good line."""
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        # Bytes that are not UTF-8 arrive as lone surrogates: nothing could store them.
        return Result(["Error: the line is not valid UTF-8 text"], ok=False)
    return None


class RecordingEngine:
    """``execute`` runs ``_execute`` and records the prompt, the line and the answer."""
    recorder: "Recorder | None"

    @property
    def prompt(self) -> str:
        raise NotImplementedError

    def _execute(self, line: str) -> Result:
        raise NotImplementedError

    def execute(self, line: str) -> Result:
        prompt, recorder = self.prompt, self.recorder
        result = self._execute(line)
        # The command that starts or stops a recording is not part of the procedure.
        if recorder is not None and self.recorder is recorder:
            try:
                recorder.write(prompt, line, result.lines)
            except OSError as exc:
                self.recorder = None
                with contextlib.suppress(OSError):
                    recorder.close()
                result.lines.append(f"Error: recording stopped: "
                                    f"{statedir.os_error(exc, 'write', recorder.path)}")
        return result

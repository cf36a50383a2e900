"""The shell's history file in the state: owner-only, never through a link, never fatal.

The file format is prompt_toolkit's ``FileHistory`` (``# time`` then ``+line`` lines),
so existing histories read as before. A symbolic link at its name is refused (it would
append the user's commands to a file someone else chose), and a history that cannot be
read or written (a full disk) is said once, in one line; the session goes on.
"""
from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Iterable
from pathlib import Path

from prompt_toolkit.history import History

from xsp.config import statedir
from xsp.config.errors import ConfigFileError

# A history is read whole at start-up; a larger file is not one this shell wrote.
MAX_HISTORY_BYTES = 8 * 1024 * 1024


class StateHistory(History):
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._reported = False
        super().__init__()

    def _report(self, exc: Exception, doing: str) -> None:
        if self._reported:
            return
        self._reported = True
        why = statedir.os_error(exc, doing, self.path) if isinstance(exc, OSError) else exc
        sys.stderr.write(f"xsp: {why}; the history is not kept\n")

    def load_history_strings(self) -> Iterable[str]:
        from xsp.config.store import read_state_file
        try:
            data = read_state_file(self.path, MAX_HISTORY_BYTES)
        except FileNotFoundError:
            return []
        except (OSError, ConfigFileError) as exc:
            self._report(exc, "read the history")
            return []
        strings: list[str] = []
        lines: list[str] = []
        for line in data.decode("utf-8", errors="replace").splitlines(keepends=True):
            if line.startswith("+"):
                lines.append(line[1:])
            else:
                if lines:
                    strings.append("".join(lines)[:-1])
                lines = []
        if lines:
            strings.append("".join(lines)[:-1])
        return reversed(strings)

    def store_string(self, string: str) -> None:
        if self._reported:
            return
        text = f"\n# {dt.datetime.now()}\n" + "".join(f"+{line}\n" for line in string.split("\n"))
        try:
            statedir.make_dir(self.path.parent)
            fd = statedir.open_nofollow(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600,
                                        "write the history")
            try:
                os.write(fd, text.encode("utf-8", errors="replace"))
            finally:
                os.close(fd)
        except (OSError, ConfigFileError) as exc:
            self._report(exc, "write the history")

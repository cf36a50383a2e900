"""``xsp.log`` in the state directory: owner-only, never through a link, never a traceback.

``logging.FileHandler`` follows a symbolic link planted at the log's name, creates the
file with the umask's mode, and answers a failed write (a full disk) by printing a
traceback to stderr for every line. This handler opens the file 0600 without following
links, creates the state directory owner-only if a line comes before anything else did,
and says once, in one line, that log lines are being dropped and why.
"""
from __future__ import annotations

import io
import logging
import os
import sys
from pathlib import Path

from xsp.config import statedir
from xsp.config.errors import ConfigFileError


class StateLogHandler(logging.FileHandler):
    def __init__(self, path: Path) -> None:
        super().__init__(path, encoding="utf-8", delay=True)
        self._reported = False

    def _open(self) -> io.TextIOWrapper:
        path = Path(self.baseFilename)
        statedir.make_dir(path.parent)
        fd = statedir.open_nofollow(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600,
                                    "open the log")
        return open(fd, "a", encoding="utf-8")

    def emit(self, record: logging.LogRecord) -> None:
        try:
            super().emit(record)
        except Exception:  # opening is outside FileHandler's own guard
            self.handleError(record)

    def handleError(self, record: logging.LogRecord) -> None:
        if self._reported:
            return
        self._reported = True
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):
            why = str(statedir.os_error(exc, "write the log", self.baseFilename))
        elif isinstance(exc, ConfigFileError):
            why = str(exc)
        else:
            why = f"cannot write the log {self.baseFilename}: {type(exc).__name__}: {exc}"
        try:
            sys.stderr.write(f"xsp: {why}; log lines are dropped until it can be written\n")
        except (OSError, ValueError):
            pass

"""CTIManager's SDL-style trace: one line per step of a connection, so a user reads where a
failing one stopped.

The layout follows the CTIManager SDL trace (a running line number, the time, ``SdlSig``
for a signal between processes with its name, the receiving state and the two processes,
``AppInfo`` for a detail); the process names and numbers are the emulator's. Lines go
to the ``xsp.cucm.sdl`` logger and into a bounded buffer the tests and
``emu status`` read.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import deque

log = logging.getLogger("xsp.cucm.sdl")
KEPT_LINES = 5000


class SdlTrace:
    def __init__(self, label: str) -> None:
        self.label = label
        self._number = 0
        self._lines: deque[str] = deque(maxlen=KEPT_LINES)
        self._lock = threading.Lock()  # logins run in worker threads

    def _emit(self, body: str) -> None:
        with self._lock:
            self._number += 1
            now = dt.datetime.now().strftime("%H:%M:%S.%f")[:-3]
            line = f"{self._number:08d}.000 |{now} |{body}"
            self._lines.append(line)
        log.info("%s %s", self.label, line)

    def signal(self, name: str, state: str, to: str, sender: str, detail: str = "") -> None:
        self._emit(f"SdlSig |{name} |{state} |{to} |{sender} |{detail}".rstrip())

    def info(self, who: str, text: str) -> None:
        self._emit(f"AppInfo |{who} |{text}")

    def lines(self) -> list[str]:
        with self._lock:
            return list(self._lines)

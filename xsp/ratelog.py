"""Log lines that a client can provoke at will, at most one per kind every few seconds.

A client that is refused, or whose events are dropped, can repeat what caused it as fast
as it likes; one line each would let it grow the log without bound (the accept failures
of a node out of descriptors did 250 MB a minute). ``RateLimitedLog`` writes the first
line of a kind, holds back the next ones for ``interval`` seconds, and says in the next
line it writes how many it held back, so nothing is hidden, only counted. A kind is a
key the caller chooses, e.g. ("backlog full", client): different clients do not hide
each other. The number of kinds remembered is bounded too.
"""
from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

INTERVAL = 10.0
MAX_KINDS = 1024


@dataclass
class _Kind:
    quiet_until: float
    held: int = 0


class RateLimitedLog:
    def __init__(self, logger: logging.Logger, *, interval: float = INTERVAL,
                 clock: Callable[[], float] = time.monotonic, max_kinds: int = MAX_KINDS) -> None:
        self.logger = logger
        self.interval = interval
        self.clock = clock
        self.max_kinds = max_kinds
        self._kinds: OrderedDict[Hashable, _Kind] = OrderedDict()

    def log(self, level: int, kind: Hashable, message: str, *args: object) -> bool:
        """Write ``message % args`` unless a line of ``kind`` went out less than
        ``interval`` ago; True when it was written."""
        now = self.clock()
        seen = self._kinds.get(kind)
        if seen is not None and now < seen.quiet_until:
            seen.held += 1
            return False
        held = seen.held if seen is not None else 0
        self._kinds[kind] = _Kind(now + self.interval)
        self._kinds.move_to_end(kind)
        while len(self._kinds) > self.max_kinds:
            self._kinds.popitem(last=False)
        if held:
            message += f" ({held} more like it since the previous one, not logged)"
        self.logger.log(level, message, *args)
        return True

    def warning(self, kind: Hashable, message: str, *args: object) -> bool:
        return self.log(logging.WARNING, kind, message, *args)

    def info(self, kind: Hashable, message: str, *args: object) -> bool:
        return self.log(logging.INFO, kind, message, *args)

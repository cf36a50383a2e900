"""A running node's long-lived objects, kept out of the collector's full collections.

Once a node has started, the objects the process holds (modules, configuration,
contexts, listeners) are frozen (``gc.freeze``): full collections otherwise walk all of
them again every few thousand events, 40 to 70 ms each for a node with 1,000 users, 13
to 20 µs per event over a burst of 3,300 events that holds one. Objects made later are
collected as before, and reference counting frees frozen ones as it always does. What
freezing holds back is a reference cycle among frozen objects that becomes garbage: a
restart replaces listeners made before the freeze, so it thaws, collects those cycles
and freezes again (one full collection per restart); a stop thaws.
"""
from __future__ import annotations

import gc


def freeze() -> None:
    gc.freeze()


def thaw() -> None:
    gc.unfreeze()


def refreeze() -> None:
    """After a restart: what it replaced is collected, what the node holds now frozen."""
    if gc.get_freeze_count():
        gc.unfreeze()
        gc.collect()
        gc.freeze()

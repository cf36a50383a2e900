"""Event packages: which events a subscription to each package carries.

The package names are BroadWorks' (the ``event`` element of a Subscription). The first
event of a subscription describes the target's state now: ``CallSubscriptionEvent``
for the call packages, ``DoNotDisturbEvent`` for Do Not Disturb. Call History has no
state to report, so its subscriptions start with the first call that ends.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from xsp.cti.documents import EventData, Node
from xsp.cti.eventdata import (CALL_EVENTS, CALL_HISTORY, DO_NOT_DISTURB, HOOK_STATUS,
                               call_subscription, do_not_disturb)


@dataclass(frozen=True)
class UserState:
    """What the hub knows of a user from the events published for them."""

    hook_status: str
    calls: tuple[Node, ...]
    dnd: bool


@dataclass(frozen=True)
class EventPackage:
    name: str
    carries: frozenset[str]
    initial: Callable[[UserState], EventData] | None


def _call_state(state: UserState) -> EventData:
    return call_subscription(state.hook_status, state.calls)


def _dnd_state(state: UserState) -> EventData:
    return do_not_disturb(state.dnd)


PACKAGES: dict[str, EventPackage] = {p.name.lower(): p for p in (
    EventPackage("Advanced Call", CALL_EVENTS | {HOOK_STATUS}, _call_state),
    EventPackage("Basic Call", CALL_EVENTS, _call_state),
    EventPackage("Call History", frozenset({CALL_HISTORY}), None),
    EventPackage("Do Not Disturb", frozenset({DO_NOT_DISTURB}), _dnd_state),
)}


def package(name: str) -> EventPackage | None:
    """The package of that name, whatever its case."""
    return PACKAGES.get(name.strip().lower())


def package_names() -> list[str]:
    return [p.name for p in PACKAGES.values()]

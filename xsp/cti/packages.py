"""Event packages: which events a subscription to each package carries.

Every name of the Xsi schema's ``EventPackage`` list (R23) can be subscribed to. The
call packages nest as the Xsi-Events specification lists them: Basic Call, Standard
Call = Basic Call and more, Advanced Call = Standard Call and more. Do Not Disturb is
its own package. A package whose events the emulator never produces (Call Waiting,
Voice Messaging...) is accepted and simply stays quiet. ``Call Recording`` was
withdrawn in release 20.0 and is refused, as a real R20+ XSP does.

The first event of a user subscription (and of its refresh) describes the user's state
now: ``CallSubscriptionEvent`` for the call packages, ``DoNotDisturbEvent`` for Do Not
Disturb (the latter is the emulator's reading: the specification names only the call
packages' first event).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from xsp.cti.documents import EventData, Node
from xsp.cti.eventdata import call_subscription, do_not_disturb

BASIC_CALL_EVENTS = frozenset({
    "CallOriginatingEvent", "CallOriginatedEvent", "CallCollectingEvent", "CallReceivedEvent",
    "CallAnsweredEvent", "CallReleasedEvent", "CallReleasingEvent", "CallSubscriptionEvent",
    "CallSubscriptionResyncEvent", "HookStatusEvent",
})
STANDARD_CALL_EVENTS = BASIC_CALL_EVENTS | {
    "CallHeldEvent", "CallRetrievedEvent", "CallTransferredEvent", "CallForwardedEvent",
    "CallUpdatedEvent", "CallPickedUpEvent", "CallParkRetrievedEvent", "CallMonitoredEvent",
    "CallBargedInEvent",
    "CallRecordingStartingEvent", "CallRecordingStartedEvent", "CallRecordingPausedEvent",
    "CallRecordingResumedEvent", "CallRecordingStoppedEvent",
    "ConferenceStartedEvent", "ConferenceHeldEvent", "ConferenceRetrievedEvent",
    "ConferenceReleasedEvent", "ConferenceUpdatedEvent", "ConferenceMutedEvent",
    "ConferenceUnmutedEvent", "ConferenceCallMutedEvent", "ConferenceCallUnMutedEvent",
    "ConferenceCallMadeDeafEvent", "ConferenceCallMadeUnDeafEvent",
}
ADVANCED_CALL_EVENTS = STANDARD_CALL_EVENTS | {"CallRedirectedEvent", "CallDetachedEvent"}

# The schema's EventPackage names (R23) other than the call packages and Do Not Disturb.
_QUIET_PACKAGES = (
    "BroadWorks Anywhere", "Call Center Agent", "Call Center Agent Monitoring",
    "Call Center Configuration", "Call Center Monitoring", "Call Center Queue",
    "Call Forwarding Always", "Call Forwarding Always Secondary", "Call Forwarding Busy",
    "Call Forwarding No Answer", "Call Park", "Call Transfer", "Call Waiting",
    "Collaborate Room", "CommPilot Express", "Flexible Seating Guest", "Hoteling Guest",
    "Last Number Redial", "Meet Me Conference", "Music On Hold", "N-Way Call",
    "Personal Assistant", "Push Notification Registration", "Remote Office",
    "Route Point Queue", "Security Classification", "Sequential Ring", "Silent Alerting",
    "Simultaneous Ring Personal", "Third-Party Voice Mail Support", "Three-Way Call",
    "Voice Mail Message Summary", "Voice Messaging",
)
WITHDRAWN = {"call recording": "the Call Recording event package was withdrawn in release "
                               "20.0; subscribe to Standard Call or Advanced Call instead"}


@dataclass(frozen=True)
class UserState:
    """What the hub knows of a user from the events published for them."""

    hook_status: str
    calls: tuple[Node, ...]
    dnd: bool
    ring_splash: bool = False


@dataclass(frozen=True)
class EventPackage:
    name: str
    carries: frozenset[str]
    initial: Callable[[UserState], EventData] | None


def _call_state(state: UserState) -> EventData:
    return call_subscription(state.hook_status, state.calls)


def _dnd_state(state: UserState) -> EventData:
    return do_not_disturb(state.dnd, state.ring_splash)


PACKAGES: dict[str, EventPackage] = {p.name.lower(): p for p in (
    EventPackage("Advanced Call", ADVANCED_CALL_EVENTS, _call_state),
    EventPackage("Basic Call", BASIC_CALL_EVENTS, _call_state),
    EventPackage("Standard Call", STANDARD_CALL_EVENTS, _call_state),
    EventPackage("Do Not Disturb", frozenset({"DoNotDisturbEvent"}), _dnd_state),
    *(EventPackage(name, frozenset(), None) for name in _QUIET_PACKAGES),
)}


def package(name: str) -> EventPackage | None:
    """The package of that name, whatever its case."""
    return PACKAGES.get(" ".join(name.split()).lower())


def withdrawn(name: str) -> str | None:
    """Why a package that once existed is refused, or None."""
    return WITHDRAWN.get(" ".join(name.split()).lower())


def package_names() -> list[str]:
    return sorted(p.name for p in PACKAGES.values())

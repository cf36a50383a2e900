"""The ``eventData`` of each Xsi event the emulator produces.

Element order follows the Xsi schema's ``Call`` type: ``callId``, ``extTrackingId``,
``personality``, ``state``, ``releasingParty``, ``remoteParty``, then the times in
milliseconds since the epoch. The event names are the schema's; which package carries
which is in ``packages``.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from xsp.cti.documents import EventData, Node, el, leaf, opt

# The call events the simulator produces (each a CallEvent: one ``call`` element).
CALL_EVENTS = frozenset({
    "CallOriginatedEvent", "CallReceivedEvent", "CallUpdatedEvent", "CallAnsweredEvent",
    "CallHeldEvent", "CallRetrievedEvent", "CallTransferredEvent", "CallReleasedEvent",
})
HOOK_STATUS = "HookStatusEvent"
DO_NOT_DISTURB = "DoNotDisturbEvent"
CALL_SUBSCRIPTION = "CallSubscriptionEvent"
SUBSCRIPTION_TERMINATED = "SubscriptionTerminatedEvent"

ON_HOOK = "On-Hook"
OFF_HOOK = "Off-Hook"


@dataclass(frozen=True)
class RemoteParty:
    address: str          # tel:+15551234567 or sip:bob@example.com
    call_type: str        # Group, Enterprise, Network
    name: str | None = None
    user_id: str | None = None  # when the remote party is a known user

    def node(self) -> Node:
        return el("remoteParty", opt("name", self.name), leaf("address", self.address),
                  opt("userId", self.user_id), leaf("callType", self.call_type))


@dataclass(frozen=True)
class Call:
    """One party's half of a call, as its events describe it."""

    call_id: str
    ext_tracking_id: str
    personality: str      # Originator or Terminator
    state: str            # Alerting, Active, Held, Released
    remote: RemoteParty
    start_time: int
    answer_time: int | None = None
    held_time: int | None = None
    release_time: int | None = None
    releasing_party: str | None = None  # localRelease or remoteRelease

    def with_(self, **changes: object) -> Call:
        return replace(self, **changes)  # type: ignore[arg-type]

    def node(self) -> Node:
        return el("call",
                  leaf("callId", self.call_id), leaf("extTrackingId", self.ext_tracking_id),
                  leaf("personality", self.personality), leaf("state", self.state),
                  opt("releasingParty", self.releasing_party), self.remote.node(),
                  leaf("startTime", self.start_time), opt("answerTime", self.answer_time),
                  opt("heldTime", self.held_time), opt("releaseTime", self.release_time))


def call_event(event_type: str, call: Call) -> EventData:
    if event_type not in CALL_EVENTS:
        raise ValueError(f"not a call event: {event_type}")
    return EventData(event_type, (call.node(),))


def hook_status(status: str) -> EventData:
    return EventData(HOOK_STATUS, (leaf("hookStatus", status),))


def do_not_disturb(active: bool, ring_splash: bool = False) -> EventData:
    """A DoNotDisturbEvent: the service's settings in ``info`` (the schema's
    ``DoNotDisturb``: ``active``, then ``ringSplash``)."""
    return EventData(DO_NOT_DISTURB, (el("info", leaf("active", _bool(active)),
                                         leaf("ringSplash", _bool(ring_splash))),))


def dnd_settings(data: EventData) -> tuple[bool, bool] | None:
    """``(active, ringSplash)`` of a DoNotDisturbEvent, None when it carries no ``info``."""
    info = next((n for n in data.body if n.tag == "info"), None)
    if info is None:
        return None
    active, splash = info.child("active"), info.child("ringSplash")
    return ((active is not None and active.text == "true"),
            (splash is not None and splash.text == "true"))


def call_subscription(status: str, calls: Iterable[Node] = ()) -> EventData:
    """Where the user's phone and calls stand now: the first event of a call
    subscription, and its resync on refresh. The schema puts ``calls`` (sorted by call
    ID, left out when there is none) before ``hookStatus``."""
    listed = sorted(calls, key=_call_id)
    body: list[Node] = [el("calls", *listed)] if listed else []
    body.append(leaf("hookStatus", status))
    return EventData(CALL_SUBSCRIPTION, tuple(body))


def _call_id(call: Node) -> str:
    node = call.child("callId")
    return node.text or "" if node is not None else ""


def subscription_terminated() -> EventData:
    return EventData(SUBSCRIPTION_TERMINATED)


def _bool(value: bool) -> str:
    return "true" if value else "false"

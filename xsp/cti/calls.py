"""The call simulator: the events an Application Server sends while calls happen.

A call between two parties produces, for each party that is a user of the AS, the
event sequence BroadWorks sends to that user's subscriptions. For a basic answered call:

  caller: HookStatusEvent Off-Hook, CallOriginatedEvent, CallUpdatedEvent (far end
          ringing), CallAnsweredEvent, CallReleasedEvent, HookStatusEvent On-Hook
  callee: CallReceivedEvent, HookStatusEvent Off-Hook, CallAnsweredEvent,
          CallReleasedEvent, HookStatusEvent On-Hook

Xsi-Events has no call history event: a released call is told by CallReleasedEvent,
whose call carries its start, answer and release times. Which of these events a
subscription receives depends on its package (Basic Call has no CallUpdatedEvent,
CallHeldEvent, CallRetrievedEvent or CallTransferredEvent).

Holding adds CallHeldEvent / CallRetrievedEvent for the holder (the caller) and
CallUpdatedEvent for the other party. A blind transfer by the caller to a third party
releases the caller, sends the callee a CallTransferredEvent (its remote party is now
the target) and the target a CallReceivedEvent, then CallAnsweredEvent after the same
ringing time. An unanswered call is released by the caller after ``release_after``.

Each delay counts from the step before it: ringing (``answer_after``) from the start,
``hold_after`` from the answer, ``retrieve_after`` from the hold, ``transfer_after``
from the answer (or retrieve), ``release_after`` from the last of those (from the start
when the call is not answered).

A party is a user id of the directory, or an outside number or address (``tel:+1...``,
``+1...``, ``sip:x@y`` not in the directory). Anything else that is not a known user is
refused before anything is published.
"""
from __future__ import annotations

import asyncio
import itertools
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from xsp.cti.directory import DirectoryUser
from xsp.cti.documents import EventData
from xsp.cti.eventdata import (OFF_HOOK, ON_HOOK, Call, RemoteParty, call_event, do_not_disturb,
                               hook_status)
from xsp.cti.hub import EventHub

_NUMBER = re.compile(r"^\+?[0-9][0-9*#-]{0,31}$")


class CallError(ValueError):
    """A call that cannot be simulated; ``str()`` is one line."""


class UnknownUser(CallError):
    pass


@dataclass(frozen=True)
class Party:
    address: str
    name: str | None
    user: DirectoryUser | None  # None for a party outside the AS

    @property
    def known(self) -> bool:
        return self.user is not None

    @property
    def label(self) -> str:
        return self.user.user_id if self.user else self.address


@dataclass(frozen=True)
class CallPlan:
    """A validated call, ready to run."""

    caller: Party
    callee: Party
    answer_after: float | None
    hold_after: float | None
    retrieve_after: float | None
    transfer_to: Party | None
    transfer_after: float
    release_after: float
    released_by: str


@dataclass
class CallResult:
    ext_tracking_id: str
    answered: bool
    calls: dict[str, Call] = field(default_factory=dict)  # user id -> their half, as it ended
    events: list[tuple[str, str]] = field(default_factory=list)  # (user id, event type)


class CallSimulator:
    def __init__(self, hub: EventHub, *, now_ms: Callable[[], int] | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.hub = hub
        self._now_ms = now_ms or (lambda: int(time.time() * 1000))
        self._sleep = sleep
        # Numbers the call halves; one simulator per hub keeps call ids unique there.
        self._call_numbers = itertools.count(1)

    # --- parties and plans -----------------------------------------------------------

    def party(self, who: str) -> Party:
        text = who.strip()
        bare = text[4:] if text.lower().startswith("sip:") else text
        user = self.hub.directory.get(bare)
        if user is not None:
            return Party(user.address, user.display_name, user)
        if text.lower().startswith(("tel:", "sip:")) and len(text) > 4:
            return Party(text, None, None)
        if _NUMBER.match(text):
            return Party(f"tel:{text}", None, None)
        known = ", ".join(u.user_id for u in self.hub.directory.users()) or "none"
        raise UnknownUser(f"unknown user {who!r}: not a user of the Application Server "
                          f"(users: {known}); outside parties are tel: or sip: addresses")

    def plan(self, caller: str, callee: str, *, answer_after: float | None = 1.0,
             hold_after: float | None = None, retrieve_after: float | None = None,
             transfer_to: str | None = None, transfer_after: float | None = None,
             release_after: float = 2.0, released_by: str = "caller") -> CallPlan:
        a, b = self.party(caller), self.party(callee)
        if not (a.known or b.known):
            raise CallError(f"neither {caller!r} nor {callee!r} is a user of the Application "
                            "Server: nobody would see events")
        if a.label == b.label:
            raise CallError(f"{caller!r} cannot call themselves")
        for name, value in (("answer_after", answer_after), ("hold_after", hold_after),
                            ("retrieve_after", retrieve_after),
                            ("transfer_after", transfer_after), ("release_after", release_after)):
            if value is not None and (not isinstance(value, (int, float)) or value < 0):
                raise CallError(f"{name} must be a number of seconds >= 0, got {value!r}")
        if answer_after is None and (hold_after is not None or transfer_to is not None):
            raise CallError("a call that is not answered cannot be held or transferred")
        if retrieve_after is not None and hold_after is None:
            raise CallError("retrieve_after needs hold_after")
        if released_by not in ("caller", "callee"):
            raise CallError(f"released_by must be caller or callee, got {released_by!r}")
        target = self.party(transfer_to) if transfer_to is not None else None
        if target is not None and target.label in (a.label, b.label):
            raise CallError(f"cannot transfer the call to {transfer_to!r}, already on it")
        return CallPlan(a, b, answer_after, hold_after, retrieve_after, target,
                        transfer_after or 0.0, release_after, released_by)

    # --- running ---------------------------------------------------------------------

    def call(self, caller: str, callee: str, **timing: object) -> asyncio.Task[CallResult]:
        """Start a call in the background; bad parties or timings raise here, at once."""
        plan = self.plan(caller, callee, **timing)  # type: ignore[arg-type]
        return asyncio.ensure_future(self.run(plan))

    async def run_call(self, caller: str, callee: str, **timing: object) -> CallResult:
        return await self.run(self.plan(caller, callee, **timing))  # type: ignore[arg-type]

    async def run(self, plan: CallPlan) -> CallResult:
        return await _CallRun(self, plan).play()

    async def set_dnd(self, user_id: str, active: bool) -> None:
        party = self.party(user_id)
        if party.user is None:
            raise UnknownUser(f"unknown user {user_id!r}: Do Not Disturb is a user's service")
        self.hub.publish(party.user.user_id, do_not_disturb(active))

    def now_ms(self) -> int:
        return self._now_ms()

    def next_call_number(self) -> int:
        return next(self._call_numbers)

    async def sleep(self, seconds: float) -> None:
        if seconds > 0:
            await self._sleep(seconds)


class _CallRun:
    """One call as it plays out: each party's half and hook state, and what was sent."""

    def __init__(self, simulator: CallSimulator, plan: CallPlan) -> None:
        self.sim = simulator
        self.plan = plan
        number = simulator.next_call_number()
        self.result = CallResult(str(uuid.uuid4()), plan.answer_after is not None)
        self.call_ids = (f"callhalf-{number}:0", f"callhalf-{number}:1", f"callhalf-{number}:2")
        self.halves: dict[str, Call] = {}
        self.off_hook: set[str] = set()

    async def publish(self, party: Party, data: EventData) -> None:
        if party.user is None:
            return
        self.sim.hub.publish(party.user.user_id, data)
        self.result.events.append((party.user.user_id, data.type))

    async def send(self, party: Party, event_type: str, **changes: object) -> None:
        """Update ``party``'s half of the call and tell them with ``event_type``."""
        if party.user is None:
            return
        half = self.halves[party.label].with_(**changes) if changes else self.halves[party.label]
        self.halves[party.label] = half
        await self.publish(party, call_event(event_type, half))

    async def hook(self, party: Party, status: str) -> None:
        if party.user is None:
            return
        if status == OFF_HOOK:
            self.off_hook.add(party.label)
        else:
            self.off_hook.discard(party.label)
        await self.publish(party, hook_status(status))

    def open_half(self, party: Party, remote: Party, personality: str, index: int) -> None:
        self.halves[party.label] = Call(
            call_id=self.call_ids[index], ext_tracking_id=self.result.ext_tracking_id,
            personality=personality, state="Alerting", remote=_remote(remote, party),
            start_time=self.sim.now_ms())

    async def play(self) -> CallResult:
        plan, sim = self.plan, self.sim
        a, b = plan.caller, plan.callee
        self.open_half(a, b, "Originator", 0)
        self.open_half(b, a, "Terminator", 1)
        await self.hook(a, OFF_HOOK)
        await self.send(a, "CallOriginatedEvent")
        await self.send(b, "CallReceivedEvent")
        await self.send(a, "CallUpdatedEvent")  # the far end is ringing
        if plan.answer_after is None:
            await sim.sleep(plan.release_after)
            await self.release(a, [b])
            return self.finish()
        await sim.sleep(plan.answer_after)
        await self.answer(b, [a])
        if plan.hold_after is not None:
            await sim.sleep(plan.hold_after)
            await self.send(a, "CallHeldEvent", state="Held", held_time=sim.now_ms())
            await self.send(b, "CallUpdatedEvent")  # its remote party is now on hold
            if plan.retrieve_after is not None:
                await sim.sleep(plan.retrieve_after)
                await self.send(a, "CallRetrievedEvent", state="Active", held_time=None)
                await self.send(b, "CallUpdatedEvent")
        if plan.transfer_to is not None:
            c = plan.transfer_to
            await sim.sleep(plan.transfer_after)
            await self.release(a, [])
            self.open_half(c, b, "Terminator", 2)
            await self.send(b, "CallTransferredEvent", remote=_remote(c, b))
            await self.send(c, "CallReceivedEvent")
            await sim.sleep(plan.answer_after)
            await self.answer(c, [])
            await self.send(b, "CallUpdatedEvent")
            a, b = b, c
        await sim.sleep(plan.release_after)
        first, second = (a, b) if plan.released_by == "caller" else (b, a)
        await self.release(first, [second])
        return self.finish()

    async def answer(self, party: Party, others: list[Party]) -> None:
        now = self.sim.now_ms()
        await self.hook(party, OFF_HOOK)
        await self.send(party, "CallAnsweredEvent", state="Active", answer_time=now)
        for other in others:
            await self.send(other, "CallAnsweredEvent", state="Active", answer_time=now)

    async def release(self, releaser: Party, others: list[Party]) -> None:
        now = self.sim.now_ms()
        for party, how in [(releaser, "localRelease")] + [(o, "remoteRelease") for o in others]:
            if party.user is None:
                continue
            await self.send(party, "CallReleasedEvent", state="Released", release_time=now,
                            releasing_party=how, held_time=None)
            if party.label in self.off_hook:
                await self.hook(party, ON_HOOK)

    def finish(self) -> CallResult:
        self.result.calls = {label: half for label, half in self.halves.items()
                             if any(user == label for user, _ in self.result.events)}
        return self.result


def _remote(party: Party, seen_by: Party) -> RemoteParty:
    """How ``party`` appears to ``seen_by``: the call type says how far away it is."""
    call_type = "Network"
    if party.user is not None and seen_by.user is not None and party.user.enterprise:
        if party.user.enterprise == seen_by.user.enterprise:
            call_type = "Group" if party.user.group == seen_by.user.group else "Enterprise"
    return RemoteParty(address=party.address, call_type=call_type, name=party.name,
                       user_id=party.user.user_id if party.user else None)

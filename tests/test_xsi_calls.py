"""The call simulator and scenarios: the event sequences an AS sends, for every party
that is a user, in order, with their call objects; mistakes refused before any event."""
from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict
from pathlib import Path

import pytest

from tests._xsi_support import WEBEX_CN, channel_request, make_hub, queued, run, subscription_request
from xsp.cti.calls import CallError, CallSimulator, UnknownUser
from xsp.cti.channels import Target
from xsp.cti.hub import EventHub
from xsp.cti.errors import XsiError
from xsp.cti.identity import Client
from xsp.webex.received import XsiEvent
from xsp.cti.scenario import ScenarioError, run_scenario

WEBEX = Client(WEBEX_CN, True)
USERS = ("alice@example.com", "bob@example.com", "carol@example.com")


class Timeline:
    """A simulator clock: sleeps are recorded and take no time; ms advance by 1000 per step."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []
        self._ms = itertools.count(1_700_000_000_000, 1000)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await asyncio.sleep(0)

    def now_ms(self) -> int:
        return next(self._ms)


def watched(event: str = "Advanced Call", users: tuple[str, ...] = USERS):
    hub = make_hub()
    channel = hub.open_channel(WEBEX, channel_request())
    for user in users:
        hub.subscribe(WEBEX, Target(user_id=user), subscription_request(event=event))
    return hub, channel


async def by_user(channel) -> dict[str, list[XsiEvent]]:
    """Each user's events after their CallSubscriptionEvent, checking sequence numbers."""
    grouped: dict[str, list[XsiEvent]] = defaultdict(list)
    for item in await queued(channel):
        if isinstance(item, XsiEvent):
            grouped[item.target_id or ""].append(item)
    for user, events in grouped.items():
        assert [e.sequence_number for e in events] == list(range(1, len(events) + 1)), user
    after = {user: events[1:] if events[0].type == "CallSubscriptionEvent" else events
             for user, events in grouped.items()}
    return {user: events for user, events in after.items() if events}


def kinds(events: list[XsiEvent]) -> list[str]:
    return [e.type if e.type != "HookStatusEvent" else f"Hook:{e.fields['hookStatus']}"
            for e in events]


def simulator(hub: EventHub, timeline: Timeline | None = None) -> CallSimulator:
    timeline = timeline or Timeline()
    return CallSimulator(hub, now_ms=timeline.now_ms, sleep=timeline.sleep)


def test_an_answered_call_gives_both_parties_their_full_sequence_in_order():
    async def scenario():
        hub, channel = watched()
        timeline = Timeline()
        result = await simulator(hub, timeline).run_call(
            "alice@example.com", "bob@example.com", answer_after=0.5, release_after=2)
        seen = await by_user(channel)
        assert kinds(seen["alice@example.com"]) == [
            "Hook:Off-Hook", "CallOriginatedEvent", "CallUpdatedEvent", "CallAnsweredEvent",
            "CallReleasedEvent", "Hook:On-Hook"]
        assert kinds(seen["bob@example.com"]) == [
            "CallReceivedEvent", "Hook:Off-Hook", "CallAnsweredEvent", "CallReleasedEvent",
            "Hook:On-Hook"]
        assert "carol@example.com" not in seen
        assert timeline.sleeps == [0.5, 2]
        originated = seen["alice@example.com"][1].fields
        received = seen["bob@example.com"][0].fields
        assert (originated["call.personality"], originated["call.state"],
                originated["call.remoteParty.address"], originated["call.remoteParty.callType"],
                originated["call.remoteParty.name"]) == (
            "Originator", "Alerting", "sip:bob@example.com", "Group", "Bob")
        assert (received["call.personality"], received["call.remoteParty.address"]) == (
            "Terminator", "sip:alice@example.com")
        assert originated["call.extTrackingId"] == received["call.extTrackingId"] \
            == result.ext_tracking_id
        assert originated["call.callId"] != received["call.callId"]
        released = seen["alice@example.com"][4].fields
        assert released["call.state"] == "Released"
        assert released["call.releasingParty"] == "localRelease"
        assert int(released["call.startTime"]) < int(released["call.answerTime"]) \
            < int(released["call.releaseTime"])
        assert seen["bob@example.com"][3].fields["call.releasingParty"] == "remoteRelease"
    run(scenario())


def test_there_is_no_call_history_event_the_released_call_tells_the_history():
    async def scenario():
        hub, channel = watched()
        with pytest.raises(XsiError) as refused:
            hub.subscribe(WEBEX, Target(user_id="alice@example.com"),
                          subscription_request(event="Call History"))
        assert refused.value.summary == (
            "Unknown event package 'Call History'; accepted: the 37 Xsi EventPackage names, "
            "e.g. Advanced Call, Basic Call, Standard Call, Do Not Disturb")
        await simulator(hub).run_call("alice@example.com", "carol@example.com", release_after=1)
        seen = await by_user(channel)
        for user, remote, call_type in (("alice@example.com", "sip:carol@example.com", "Enterprise"),
                                        ("carol@example.com", "sip:alice@example.com", "Enterprise")):
            assert all(e.type != "CallHistoryEvent" for e in seen[user])
            released = next(e for e in seen[user] if e.type == "CallReleasedEvent")
            assert (released.fields["call.state"], released.fields["call.remoteParty.address"],
                    released.fields["call.remoteParty.callType"]) == ("Released", remote, call_type)
            assert {"call.startTime", "call.answerTime", "call.releaseTime"} <= set(released.fields)
    run(scenario())


def test_an_unanswered_call_rings_then_is_released_by_the_caller():
    async def scenario():
        hub, channel = watched()
        timeline = Timeline()
        result = await simulator(hub, timeline).run_call(
            "alice@example.com", "bob@example.com", answer_after=None, release_after=3)
        seen = await by_user(channel)
        assert kinds(seen["alice@example.com"]) == [
            "Hook:Off-Hook", "CallOriginatedEvent", "CallUpdatedEvent", "CallReleasedEvent",
            "Hook:On-Hook"]
        assert kinds(seen["bob@example.com"]) == ["CallReceivedEvent", "CallReleasedEvent"]
        assert "call.answerTime" not in seen["bob@example.com"][1].fields
        assert timeline.sleeps == [3] and not result.answered
    run(scenario())


def test_hold_and_retrieve_reach_the_holder_and_update_the_other_party():
    async def scenario():
        hub, channel = watched()
        timeline = Timeline()
        await simulator(hub, timeline).run_call(
            "alice@example.com", "bob@example.com", answer_after=1, hold_after=2,
            retrieve_after=3, release_after=4)
        seen = await by_user(channel)
        alice = seen["alice@example.com"]
        assert kinds(alice)[3:6] == ["CallAnsweredEvent", "CallHeldEvent", "CallRetrievedEvent"]
        assert (alice[4].fields["call.state"], alice[5].fields["call.state"]) == ("Held", "Active")
        assert "call.heldTime" in alice[4].fields and "call.heldTime" not in alice[5].fields
        assert kinds(seen["bob@example.com"])[2:5] == [
            "CallAnsweredEvent", "CallUpdatedEvent", "CallUpdatedEvent"]
        assert timeline.sleeps == [1, 2, 3, 4]
    run(scenario())


def test_a_blind_transfer_releases_the_transferor_and_connects_the_target():
    async def scenario():
        hub, channel = watched()
        await simulator(hub).run_call(
            "alice@example.com", "bob@example.com", answer_after=1,
            transfer_to="carol@example.com", transfer_after=1, release_after=1)
        seen = await by_user(channel)
        assert kinds(seen["alice@example.com"])[-2:] == ["CallReleasedEvent", "Hook:On-Hook"]
        bob = seen["bob@example.com"]
        assert kinds(bob) == ["CallReceivedEvent", "Hook:Off-Hook", "CallAnsweredEvent",
                              "CallTransferredEvent", "CallUpdatedEvent", "CallReleasedEvent",
                              "Hook:On-Hook"]
        assert bob[3].fields["call.remoteParty.address"] == "sip:carol@example.com"
        assert kinds(seen["carol@example.com"]) == [
            "CallReceivedEvent", "Hook:Off-Hook", "CallAnsweredEvent", "CallReleasedEvent",
            "Hook:On-Hook"]
        assert seen["carol@example.com"][0].fields["call.remoteParty.address"] == "sip:bob@example.com"
    run(scenario())


def test_an_outside_caller_produces_events_for_the_user_only():
    async def scenario():
        hub, channel = watched()
        await simulator(hub).run_call("+15551234567", "bob@example.com", release_after=1)
        seen = await by_user(channel)
        assert set(seen) == {"bob@example.com"}
        received = seen["bob@example.com"][0].fields
        assert (received["call.remoteParty.address"], received["call.remoteParty.callType"]) == (
            "tel:+15551234567", "Network")
        assert "call.remoteParty.name" not in received
    run(scenario())


@pytest.mark.parametrize("caller, callee, options, words", [
    ("zed@example.com", "bob@example.com", {}, "unknown user 'zed@example.com'"),
    ("alice@example.com", "bob@example.com", {"transfer_to": "nobody"}, "unknown user 'nobody'"),
    ("tel:+1555", "tel:+1666", {}, "nobody would see events"),
    ("alice@example.com", "alice@example.com", {}, "cannot call themselves"),
    ("alice@example.com", "bob@example.com", {"release_after": -1}, "release_after must be"),
    ("alice@example.com", "bob@example.com", {"retrieve_after": 1}, "retrieve_after needs hold_after"),
    ("alice@example.com", "bob@example.com", {"answer_after": None, "hold_after": 1},
     "cannot be held or transferred"),
])
def test_impossible_calls_are_refused_at_once_and_publish_nothing(caller, callee, options, words):
    async def scenario():
        hub, _ = watched()
        before = hub.stats.published
        with pytest.raises(CallError) as refused:
            simulator(hub).call(caller, callee, **options)
        assert words in str(refused.value)
        assert hub.stats.published == before
    run(scenario())


def test_do_not_disturb_subscribers_see_the_state_then_its_changes():
    async def scenario():
        hub, channel = watched("Do Not Disturb", ("bob@example.com",))
        sim = simulator(hub)
        await sim.set_dnd("bob@example.com", True)
        with pytest.raises(UnknownUser):
            await sim.set_dnd("tel:+15551234567", True)
        items = [i for i in await queued(channel) if isinstance(i, XsiEvent)]
        assert [(e.type, e.sequence_number, e.fields["info.active"], e.fields["info.ringSplash"])
                for e in items] == [("DoNotDisturbEvent", 1, "false", "false"),
                                    ("DoNotDisturbEvent", 2, "true", "false")]
    run(scenario())


SCENARIO = """\
name: two calls
time_scale: 0.001
steps:
  - call: {from: alice@example.com, to: bob@example.com, answer_after: 1, release_after: 2,
           background: true}
  - call: {from: "tel:+15551234567", to: carol@example.com, answer_after: null, release_after: 1}
  - dnd: {user: bob@example.com, active: true}
  - wait: 1
"""


def test_a_scenario_file_plays_its_calls_including_background_ones(tmp_path: Path):
    path = tmp_path / "two-calls.yaml"
    path.write_text(SCENARIO)

    async def scenario():
        hub, channel = watched()
        result = await run_scenario(hub, path)
        seen = await by_user(channel)
        assert result.name == "two calls" and len(result.calls) == 2
        assert kinds(seen["carol@example.com"]) == ["CallReceivedEvent", "CallReleasedEvent"]
        assert kinds(seen["alice@example.com"])[-1] == "Hook:On-Hook"
        assert result.events == 6 + 5 + 2  # published per user
    run(scenario())


@pytest.mark.parametrize("text, words", [
    ("steps:\n  - call: {from: alice@example.com, to: bob@example.com}\n"
     "  - call: {from: alice@example.com, to: zed@example.com}\n",
     "step 2 (call): unknown user 'zed@example.com'"),
    ("steps:\n  - call: {from: alice@example.com, to: bob@example.com, ring: 3}\n",
     "step 1 (call): unknown keys ring"),
    ("steps:\n  - dial: 5\n", "step 1 (dial): each step is one of call, wait, dnd"),
    ("steps:\n  - wait: soon\n", "step 1 (wait): wait takes a number of seconds"),
    ("steps: [\n", "line 2: not valid YAML"),
    ("name: empty\n", "a scenario needs a non-empty 'steps' list"),
])
def test_a_bad_scenario_is_refused_whole_before_any_event(tmp_path: Path, text, words):
    path = tmp_path / "bad.yaml"
    path.write_text(text)

    async def scenario():
        hub, _ = watched()
        before = hub.stats.published
        with pytest.raises(ScenarioError) as refused:
            await run_scenario(hub, path)
        assert words in str(refused.value)
        assert hub.stats.published == before
    run(scenario())

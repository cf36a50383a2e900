"""The event hub on a fake clock: subscription events first, per-subscription sequence
numbers, acknowledgement and redelivery, expiry, backlog, ownership, shutdown."""
from __future__ import annotations

import asyncio

import pytest

from tests._xsi_support import (WEBEX_CN, FakeClock, channel_request, make_hub, queued, run,
                                subscription_request)
from xsp.cti.channels import Target
from xsp.cti.documents import EventResponse
from xsp.cti.errors import ErrorCode, XsiError
from xsp.cti.eventdata import Call, RemoteParty, call_event, hook_status
from xsp.cti.identity import Client
from xsp.webex.received import ChannelReply, XsiEvent

WEBEX = Client(WEBEX_CN, True)
OTHER = Client("other.example.com", True)
ALICE = Target(user_id="alice@example.com")
BOB = Target(user_id="bob@example.com")


def events(found: list) -> list[XsiEvent]:
    return [f for f in found if isinstance(f, XsiEvent)]


def test_the_first_event_of_a_subscription_is_its_call_subscription_event():
    """(and an expires below 3600 is raised to 3600)"""
    async def scenario():
        hub = make_hub()
        channel = hub.open_channel(WEBEX, channel_request())
        subscription, granted = hub.subscribe(WEBEX, ALICE, subscription_request(expires=600))
        found = await queued(channel)
        assert isinstance(found[0], ChannelReply) and found[0].channel_id == channel.id
        (first,) = events(found)
        assert (first.type, first.sequence_number, first.fields) == (
            "CallSubscriptionEvent", 1, {"hookStatus": "On-Hook"})
        assert (first.client_id, first.target_id, first.subscription_id, first.channel_id,
                first.external_application_id) == (WEBEX_CN, "alice@example.com",
                                                   subscription.id, channel.id, "test-app")
        assert granted == 3600
    run(scenario())


def test_sequence_numbers_count_per_subscription():
    async def scenario():
        hub = make_hub()
        channel = hub.open_channel(WEBEX, channel_request())
        alice, _ = hub.subscribe(WEBEX, ALICE, subscription_request())
        bob, _ = hub.subscribe(WEBEX, BOB, subscription_request())
        hub.publish("alice@example.com", hook_status("Off-Hook"))
        hub.publish("alice@example.com", hook_status("On-Hook"))
        hub.publish("bob@example.com", hook_status("Off-Hook"))
        got = [(e.subscription_id, e.sequence_number) for e in events(await queued(channel))]
        assert got == [(alice.id, 1), (bob.id, 1), (alice.id, 2), (alice.id, 3), (bob.id, 2)]
    run(scenario())


def test_an_acknowledged_event_is_not_sent_again():
    async def scenario():
        clock = FakeClock()
        hub = make_hub(clock=clock, ack_timeout=5)
        channel = hub.open_channel(WEBEX, channel_request())
        hub.subscribe(WEBEX, ALICE, subscription_request())
        (first,) = events(await queued(channel))
        hub.acknowledge(WEBEX, EventResponse(first.event_id))
        hub.acknowledge(WEBEX, EventResponse(first.event_id))  # a second ack is harmless
        clock.advance(6)
        hub.sweep()
        assert events(await queued(channel)) == []
        assert (hub.stats.acknowledged, hub.stats.redelivered, hub.unacknowledged) == (1, 0, 0)
    run(scenario())


def test_an_unacknowledged_event_is_sent_again_on_another_channel_of_the_set_and_counted():
    async def scenario():
        clock = FakeClock()
        hub = make_hub(clock=clock, ack_timeout=5)
        first_channel = hub.open_channel(WEBEX, channel_request())
        second_channel = hub.open_channel(WEBEX, channel_request())
        hub.subscribe(WEBEX, ALICE, subscription_request())
        sent = events(await queued(first_channel)) + events(await queued(second_channel))
        assert len(sent) == 1
        original = sent[0]
        clock.advance(4.9)
        hub.sweep()
        assert events(await queued(first_channel)) + events(await queued(second_channel)) == []
        clock.advance(0.2)
        hub.sweep()
        other = second_channel if original.channel_id == first_channel.id else first_channel
        (again,) = events(await queued(other))
        assert (again.event_id, again.sequence_number, again.channel_id) == (
            original.event_id, original.sequence_number, other.id)
        assert hub.stats.redelivered == 1
    run(scenario())


def test_redelivery_gives_up_after_max_attempts_and_counts_the_event_undeliverable():
    async def scenario():
        clock = FakeClock()
        hub = make_hub(clock=clock, ack_timeout=1, max_attempts=2)
        channel = hub.open_channel(WEBEX, channel_request())
        hub.subscribe(WEBEX, ALICE, subscription_request())
        for _ in range(4):
            clock.advance(1.5)
            hub.sweep()
        copies = events(await queued(channel))
        assert len(copies) == 2 and copies[0].event_id == copies[1].event_id
        assert (hub.stats.redelivered, hub.stats.undeliverable, hub.unacknowledged) == (1, 1, 0)
        with pytest.raises(XsiError) as late:
            hub.acknowledge(WEBEX, EventResponse(copies[0].event_id))
        assert late.value.code is ErrorCode.NO_SUCH_EVENT
    run(scenario())


def test_a_channel_lives_while_refreshed_and_then_expires_with_channel_terminated_event():
    async def scenario():
        clock = FakeClock()
        hub = make_hub(clock=clock, min_expires=1)
        channel = hub.open_channel(WEBEX, channel_request(expires=10))
        clock.advance(8)
        assert hub.refresh_channel(WEBEX, channel.id, 10) == 10
        clock.advance(9)
        hub.sweep()
        assert hub.channel_count == 1
        clock.advance(2)
        hub.sweep()
        found = await queued(channel)
        ended = found[-2]
        assert isinstance(ended, XsiEvent) and ended.terminates_channel
        assert (ended.channel_id, ended.fields["reason"]) == (channel.id, "Expired")
        assert found[-1] is None  # the stream ends after it
        assert (hub.channel_count, hub.stats.channels_expired) == (0, 1)
        with pytest.raises(XsiError) as gone:
            hub.heartbeat(WEBEX, channel.id)
        assert gone.value.status == 404
    run(scenario())


def test_a_subscription_not_refreshed_ends_with_subscription_terminated_event_in_sequence():
    async def scenario():
        clock = FakeClock()
        hub = make_hub(clock=clock, ack_timeout=1000, min_expires=1)  # no redelivery in the way
        channel = hub.open_channel(WEBEX, channel_request(expires=100))
        subscription, _ = hub.subscribe(WEBEX, ALICE, subscription_request(expires=20))
        clock.advance(15)
        hub.refresh_subscription(WEBEX, subscription.id, 20)
        clock.advance(15)
        hub.sweep()
        assert hub.subscription_count == 1
        clock.advance(6)
        hub.sweep()
        got = [(e.type, e.sequence_number) for e in events(await queued(channel))]
        # the refresh resynchronises: a new CallSubscriptionEvent
        assert got == [("CallSubscriptionEvent", 1), ("CallSubscriptionEvent", 2),
                       ("SubscriptionTerminatedEvent", 3)]
        assert (hub.subscription_count, hub.stats.subscriptions_expired) == (0, 1)
    run(scenario())


class _Watched(dict):
    """The hub's channels or subscriptions, counting the sweeps that walk them."""
    walks = 0

    def values(self):
        type(self).walks += 1
        return super().values()


def test_idle_sweeps_walk_no_channel_or_set_until_one_is_due_and_a_shorter_refresh_counts():
    async def scenario():
        clock = FakeClock()
        hub = make_hub(clock=clock, ack_timeout=1000, min_expires=1)
        hub._channels, hub._subscriptions, hub._sets = _Watched(), _Watched(), _Watched()
        channels = [hub.open_channel(WEBEX, channel_request(expires=100)) for _ in range(3)]
        hub.subscribe(WEBEX, ALICE, subscription_request(expires=100))
        _Watched.walks = 0
        for _ in range(50):  # 49 s of sweeps with nothing due
            clock.advance(0.98)
            hub.sweep()
        assert _Watched.walks == 0
        assert hub.refresh_channel(WEBEX, channels[1].id, 10) == 10  # shorter than before
        clock.advance(10.5)
        hub.sweep()
        assert (hub.channel_count, hub.stats.channels_expired) == (2, 1)
        walks = _Watched.walks
        clock.advance(1)
        hub.sweep()
        assert _Watched.walks == walks  # the next expiry is 40 s away again
        clock.advance(40)
        hub.sweep()
        assert (hub.channel_count, hub.subscription_count, hub.stats.channels_expired) == (0, 0, 3)
    run(scenario())


def test_expires_are_capped_and_default_when_absent():
    async def scenario():
        hub = make_hub(max_channel_expires=7200, default_expires=3600)
        channel = hub.open_channel(WEBEX, channel_request(expires=10**6))
        assert (await queued(channel))[0] == ChannelReply(channel.id, 7200)
        assert hub.refresh_channel(WEBEX, channel.id, None) == 3600
    run(scenario())


def test_events_wait_while_the_set_has_no_channel_and_arrive_in_order_on_the_next():
    async def scenario():
        hub = make_hub()
        lost = hub.open_channel(WEBEX, channel_request())
        hub.subscribe(WEBEX, ALICE, subscription_request())
        hub.channel_gone(lost)  # its connection broke
        hub.publish("alice@example.com", hook_status("Off-Hook"))
        hub.publish("alice@example.com", hook_status("On-Hook"))
        fresh = hub.open_channel(WEBEX, channel_request())
        got = [(e.type, e.fields.get("hookStatus"), e.sequence_number, e.channel_id)
               for e in events(await queued(fresh))]
        assert got == [("HookStatusEvent", "Off-Hook", 2, fresh.id),
                       ("HookStatusEvent", "On-Hook", 3, fresh.id)]
    run(scenario())


def test_a_group_subscription_covers_the_users_of_that_group_and_no_others():
    """(and starts with no CallSubscriptionEvent per user)"""
    async def scenario():
        hub = make_hub()
        channel = hub.open_channel(WEBEX, channel_request())
        hub.subscribe(WEBEX, Target(enterprise="Acme", group="Sales"), subscription_request())
        for user in ("carol@example.com", "dave@example.com", "bob@example.com"):
            hub.publish(user, hook_status("Off-Hook"))
        got = [(e.type, e.target_id, e.sequence_number) for e in events(await queued(channel))]
        assert got == [("HookStatusEvent", "bob@example.com", 1)]
    run(scenario())


@pytest.mark.parametrize("target, covered", [
    (Target(enterprise="Acme"), ["alice@example.com", "bob@example.com", "carol@example.com"]),
    (Target(), ["alice@example.com", "bob@example.com", "carol@example.com", "dave@example.com"]),
])
def test_enterprise_and_system_subscriptions_cover_their_users_with_no_initial_event(
        target, covered):
    async def scenario():
        hub = make_hub()
        channel = hub.open_channel(WEBEX, channel_request())
        hub.subscribe(WEBEX, target, subscription_request())
        assert events(await queued(channel)) == []
        for user in ("alice@example.com", "bob@example.com", "carol@example.com",
                     "dave@example.com"):
            hub.publish(user, hook_status("Off-Hook"))
        assert [e.target_id for e in events(await queued(channel))] == covered
    run(scenario())


def test_unknown_users_groups_packages_and_channel_sets_are_refused():
    async def scenario():
        hub = make_hub()
        hub.open_channel(WEBEX, channel_request())
        cases = [(Target(user_id="zed@example.com"), subscription_request(), ErrorCode.NO_SUCH_USER),
                 (Target(enterprise="Acme", group="Nope"), subscription_request(),
                  ErrorCode.NO_SUCH_GROUP),
                 (ALICE, subscription_request(event="Telepathy"), ErrorCode.INVALID_VALUE),
                 (ALICE, subscription_request("no-such-set"), ErrorCode.NO_SUCH_CHANNEL_SET)]
        for target, request, code in cases:
            with pytest.raises(XsiError) as refused:
                hub.subscribe(WEBEX, target, request)
            assert refused.value.code is code
        assert hub.subscription_count == 0
    run(scenario())


def test_another_client_can_neither_use_nor_see_a_client_s_channels_and_subscriptions():
    async def scenario():
        hub = make_hub()
        channel = hub.open_channel(WEBEX, channel_request())
        subscription, _ = hub.subscribe(WEBEX, ALICE, subscription_request())
        (first,) = events(await queued(channel))
        refusals = [
            (lambda: hub.heartbeat(OTHER, channel.id), ErrorCode.FOREIGN_CHANNEL),
            (lambda: hub.delete_channel(OTHER, channel.id), ErrorCode.FOREIGN_CHANNEL),
            (lambda: hub.unsubscribe(OTHER, subscription.id), ErrorCode.FOREIGN_SUBSCRIPTION),
            (lambda: hub.acknowledge(OTHER, EventResponse(first.event_id)), ErrorCode.FOREIGN_EVENT),
            (lambda: hub.audit(OTHER, "set-1"), ErrorCode.NO_SUCH_CHANNEL_SET),
            # the same channelSetId is another set for another client
            (lambda: hub.subscribe(OTHER, ALICE, subscription_request()),
             ErrorCode.NO_SUCH_CHANNEL_SET),
        ]
        for attempt, code in refusals:
            with pytest.raises(XsiError) as refused:
                attempt()
            assert refused.value.code is code
        assert (hub.channel_count, hub.subscription_count, hub.unacknowledged) == (1, 1, 1)
    run(scenario())


def test_a_new_subscription_reports_the_call_in_progress():
    async def scenario():
        hub = make_hub()
        channel = hub.open_channel(WEBEX, channel_request())
        call = Call("callhalf-7:0", "x-1", "Originator", "Alerting",
                    RemoteParty("tel:+15551234567", "Network"), 1700000000000)
        hub.publish("alice@example.com", hook_status("Off-Hook"))
        hub.publish("alice@example.com", call_event("CallOriginatedEvent", call))
        hub.subscribe(WEBEX, ALICE, subscription_request())
        (first,) = events(await queued(channel))
        assert (first.fields["hookStatus"], first.fields["calls"],
                first.fields["calls.call.callId"]) == ("Off-Hook", "1", "callhalf-7:0")
    run(scenario())


def test_close_terminates_every_channel_and_refuses_new_ones():
    async def scenario():
        hub = make_hub()
        channels = [hub.open_channel(WEBEX, channel_request()),
                    hub.open_channel(OTHER, channel_request("set-2"))]
        readers = [queued(c, timeout=1) for c in channels]
        found, _ = await asyncio.gather(asyncio.gather(*readers), hub.close())
        for channel, documents in zip(channels, found):
            ended = documents[-2]
            assert isinstance(ended, XsiEvent) and ended.terminates_channel
            assert (ended.channel_id, ended.fields["reason"]) == (channel.id, "ExplicitDelete")
            assert documents[-1] is None
        with pytest.raises(XsiError) as refused:
            hub.open_channel(WEBEX, channel_request())
        assert refused.value.status == 503
    run(scenario())


def test_channels_of_better_priority_get_the_events_and_equal_ones_share_by_weight():
    async def scenario():
        hub = make_hub()
        backup = hub.open_channel(WEBEX, channel_request(priority=2))
        heavy = hub.open_channel(WEBEX, channel_request(weight=75))
        light = hub.open_channel(WEBEX, channel_request(weight=25))
        hub.subscribe(WEBEX, ALICE, subscription_request())
        for _ in range(7):
            hub.publish("alice@example.com", hook_status("Off-Hook"))
        counts = [len(events(await queued(c))) for c in (backup, heavy, light)]
        assert counts == [0, 6, 2]
    run(scenario())

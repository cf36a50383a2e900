"""Xsi-Events semantics as the specification states them, each pinned with the exact
documents the hub puts on the channels: replacement of a subscription, single channel
set per application, termination reasons, expires limits, resync on refresh, the
EventResponse status codes, and what each event package carries."""
from __future__ import annotations

import asyncio
import logging

import pytest

from tests._xsi_support import (WEBEX_CN, FakeClock, channel_request, make_hub, run,
                                subscription_request, written)
from xsp.cti.calls import CallSimulator
from xsp.cti.channels import Target
from xsp.cti.documents import EventResponse, parse_event_response
from xsp.cti.errors import ErrorCode, XsiError
from xsp.cti.eventdata import hook_status
from xsp.cti.identity import Client
from xsp.webex.received import XsiEvent, read_document

NS = "http://schema.broadsoft.com/xsi"
XSI1 = "http://www.w3.org/2001/XMLSchema-instance"
HEAD = '<?xml version="1.0" encoding="UTF-8"?>'
WEBEX = Client(WEBEX_CN, True)
ALICE = Target(user_id="alice@example.com")


def terminated(channel_id: str, reason: str) -> str:
    return (f'{HEAD}<xsi:Event xmlns:xsi="{NS}" xmlns:xsi1="{XSI1}" '
            f'xsi1:type="xsi:ChannelTerminatedEvent"><xsi:channelId>{channel_id}</xsi:channelId>'
            f"<xsi:reason>{reason}</xsi:reason></xsi:Event>")


def event(document: str | None) -> XsiEvent:
    parsed = read_document(document or "")
    assert isinstance(parsed, XsiEvent)
    return parsed


def subscription_event(found: XsiEvent, data: str, *, app: str = "test-app",
                       target: str = "alice@example.com") -> str:
    """The whole SubscriptionEvent document ``found`` must be, ids taken from it."""
    return (f'{HEAD}<xsi:Event xmlns:xsi="{NS}" xmlns:xsi1="{XSI1}" '
            f'xsi1:type="xsi:SubscriptionEvent"><xsi:eventID>{found.event_id}</xsi:eventID>'
            f"<xsi:sequenceNumber>{found.sequence_number}</xsi:sequenceNumber>"
            f"<xsi:clientId>{WEBEX_CN}</xsi:clientId>"
            f"<xsi:externalApplicationId>{app}</xsi:externalApplicationId>"
            f"<xsi:subscriptionId>{found.subscription_id}</xsi:subscriptionId>"
            f"<xsi:channelId>{found.channel_id}</xsi:channelId>"
            f"<xsi:targetId>{target}</xsi:targetId>{data}</xsi:Event>")


ON_HOOK_STATE = ('<xsi:eventData xsi1:type="xsi:CallSubscriptionEvent">'
                 "<xsi:hookStatus>On-Hook</xsi:hookStatus></xsi:eventData>")
ENDED = '<xsi:eventData xsi1:type="xsi:SubscriptionTerminatedEvent"/>'
OFF_HOOK = ('<xsi:eventData xsi1:type="xsi:HookStatusEvent">'
            "<xsi:hookStatus>Off-Hook</xsi:hookStatus></xsi:eventData>")


# --- subscriptions -------------------------------------------------------------------

def test_a_second_subscription_for_the_same_target_package_and_application_replaces_the_first():
    async def scenario():
        hub = make_hub()
        channel = hub.open_channel(WEBEX, channel_request())
        first, _ = hub.subscribe(WEBEX, ALICE, subscription_request())
        other_app, _ = hub.subscribe(WEBEX, ALICE, subscription_request(application_id="other"))
        await written(channel)
        second, _ = hub.subscribe(WEBEX, ALICE, subscription_request())
        ended, started = [event(d) for d in await written(channel)]
        assert (ended.subscription_id, ended.sequence_number, started.subscription_id,
                started.sequence_number) == (first.id, 2, second.id, 1)
        assert ended.xml == subscription_event(ended, ENDED)
        assert started.xml == subscription_event(started, ON_HOOK_STATE)
        hub.publish("alice@example.com", hook_status("Off-Hook"))
        once = [event(d) for d in await written(channel)]
        assert [(e.subscription_id, e.xml) for e in once] == [
            (other_app.id, subscription_event(once[0], OFF_HOOK, app="other")),
            (second.id, subscription_event(once[1], OFF_HOOK))]
        assert hub.subscription_count == 2
    run(scenario())


def test_events_of_a_replaced_subscription_are_not_sent_again_and_a_late_answer_is_harmless():
    async def scenario():
        clock = FakeClock()
        hub = make_hub(clock=clock, ack_timeout=5)
        channel = hub.open_channel(WEBEX, channel_request())
        hub.subscribe(WEBEX, ALICE, subscription_request())
        (unanswered,) = [event(d) for d in (await written(channel))[1:]]
        hub.subscribe(WEBEX, ALICE, subscription_request())
        for found in [event(d) for d in await written(channel)]:
            hub.acknowledge(WEBEX, EventResponse(found.event_id))
        clock.advance(6)
        hub.sweep()
        assert await written(channel) == []
        hub.acknowledge(WEBEX, EventResponse(unanswered.event_id))  # no error
        assert (hub.unacknowledged, hub.stats.redelivered) == (0, 0)
    run(scenario())


def test_a_subscription_without_application_id_takes_its_channel_set_id_as_one():
    async def scenario():
        hub = make_hub()
        channel = hub.open_channel(WEBEX, channel_request("webex-set"))
        hub.subscribe(WEBEX, ALICE, subscription_request("webex-set", application_id=""))
        (_, first) = await written(channel)
        found = event(first)
        assert found.xml == subscription_event(found, ON_HOOK_STATE, app="webex-set")
    run(scenario())


def test_refreshing_a_subscription_resyncs_it_with_a_call_subscription_event():
    async def scenario():
        hub = make_hub()
        channel = hub.open_channel(WEBEX, channel_request())
        subscription, _ = hub.subscribe(WEBEX, ALICE, subscription_request())
        hub.publish("alice@example.com", hook_status("Off-Hook"))
        await written(channel)
        assert hub.refresh_subscription(WEBEX, subscription.id, None) == 3600
        (resync,) = [event(d) for d in await written(channel)]
        assert resync.sequence_number == 3
        assert resync.xml == subscription_event(
            resync, '<xsi:eventData xsi1:type="xsi:CallSubscriptionEvent">'
                    "<xsi:hookStatus>Off-Hook</xsi:hookStatus></xsi:eventData>")
    run(scenario())


def test_a_resync_lists_the_calls_in_progress_before_the_hook_status():
    async def scenario():
        hub = make_hub()
        channel = hub.open_channel(WEBEX, channel_request())
        subscription, _ = hub.subscribe(WEBEX, ALICE, subscription_request())
        sim = CallSimulator(hub, now_ms=lambda: 1_700_000_000_000)
        call = sim.call("alice@example.com", "tel:+15551234567", answer_after=0,
                        release_after=60)
        while not any("CallAnsweredEvent" in (d or "") for d in await written(channel)):
            pass
        hub.refresh_subscription(WEBEX, subscription.id, None)
        (resync,) = [event(d) for d in await written(channel)]
        call_id = resync.fields["calls.call.callId"]
        assert resync.xml == subscription_event(
            resync, '<xsi:eventData xsi1:type="xsi:CallSubscriptionEvent"><xsi:calls><xsi:call>'
                    f"<xsi:callId>{call_id}</xsi:callId>"
                    f"<xsi:extTrackingId>{resync.fields['calls.call.extTrackingId']}"
                    "</xsi:extTrackingId><xsi:personality>Originator</xsi:personality>"
                    "<xsi:state>Active</xsi:state><xsi:remoteParty><xsi:address>"
                    "tel:+15551234567</xsi:address><xsi:callType>Network</xsi:callType>"
                    "</xsi:remoteParty><xsi:startTime>1700000000000</xsi:startTime>"
                    "<xsi:answerTime>1700000000000</xsi:answerTime></xsi:call></xsi:calls>"
                    "<xsi:hookStatus>Off-Hook</xsi:hookStatus></xsi:eventData>")
        call.cancel()
    run(scenario())


@pytest.mark.parametrize("name", ["Standard Call", "voice messaging", "Call Waiting"])
def test_any_event_package_of_the_schema_is_accepted(name):
    async def scenario():
        hub = make_hub()
        hub.open_channel(WEBEX, channel_request())
        subscription, _ = hub.subscribe(WEBEX, ALICE, subscription_request(event=name))
        assert subscription.package.name.lower() == name.lower()
    run(scenario())


@pytest.mark.parametrize("name, summary", [
    ("Call History", "Unknown event package 'Call History'; accepted: the 37 Xsi EventPackage "
                     "names, e.g. Advanced Call, Basic Call, Standard Call, Do Not Disturb"),
    ("Call Recording", "Event package 'Call Recording' refused: the Call Recording event "
                       "package was withdrawn in release 20.0; subscribe to Standard Call or "
                       "Advanced Call instead"),
])
def test_a_package_that_is_not_in_the_schema_or_was_withdrawn_is_refused(name, summary):
    async def scenario():
        hub = make_hub()
        hub.open_channel(WEBEX, channel_request())
        with pytest.raises(XsiError) as refused:
            hub.subscribe(WEBEX, ALICE, subscription_request(event=name))
        assert (refused.value.status, refused.value.summary) == (400, summary)
    run(scenario())


def test_each_call_package_carries_exactly_the_events_the_specification_lists():
    async def scenario():
        hub = make_hub()
        channel = hub.open_channel(WEBEX, channel_request())
        packages = {"alice@example.com": "Basic Call", "bob@example.com": "Standard Call",
                    "carol@example.com": "Advanced Call"}
        for user, name in packages.items():
            hub.subscribe(WEBEX, Target(user_id=user), subscription_request(event=name))
        sim = CallSimulator(hub, sleep=lambda _: asyncio.sleep(0))
        await sim.run_call("alice@example.com", "bob@example.com", hold_after=1,
                           retrieve_after=1, transfer_to="carol@example.com", transfer_after=1)
        seen: dict[str, list[str]] = {user: [] for user in packages}
        for document in (await written(channel))[1:]:
            found = event(document)
            seen[found.target_id or ""].append(found.type)
        assert seen["alice@example.com"] == [  # Basic Call: no held, retrieved or updated
            "CallSubscriptionEvent", "HookStatusEvent", "CallOriginatedEvent",
            "CallAnsweredEvent", "CallReleasedEvent", "HookStatusEvent"]
        assert seen["bob@example.com"] == [
            "CallSubscriptionEvent", "CallReceivedEvent", "HookStatusEvent", "CallAnsweredEvent",
            "CallUpdatedEvent", "CallUpdatedEvent", "CallTransferredEvent", "CallUpdatedEvent",
            "CallReleasedEvent", "HookStatusEvent"]
        assert seen["carol@example.com"] == [
            "CallSubscriptionEvent", "CallReceivedEvent", "HookStatusEvent", "CallAnsweredEvent",
            "CallReleasedEvent", "HookStatusEvent"]
    run(scenario())


def test_a_do_not_disturb_event_holds_active_and_ring_splash_in_info():
    async def scenario():
        hub = make_hub()
        channel = hub.open_channel(WEBEX, channel_request())
        hub.subscribe(WEBEX, ALICE, subscription_request(event="Do Not Disturb"))
        await CallSimulator(hub).set_dnd("alice@example.com", True)
        state, change = [event(d) for d in (await written(channel))[1:]]
        dnd = ('<xsi:eventData xsi1:type="xsi:DoNotDisturbEvent"><xsi:info><xsi:active>{}'
               "</xsi:active><xsi:ringSplash>false</xsi:ringSplash></xsi:info></xsi:eventData>")
        assert state.xml == subscription_event(state, dnd.format("false"))
        assert change.xml == subscription_event(change, dnd.format("true"))
    run(scenario())


# --- channels ------------------------------------------------------------------------

def test_a_second_channel_set_for_the_same_application_terminates_the_first_sets_channels():
    async def scenario():
        hub = make_hub()
        first = [hub.open_channel(WEBEX, channel_request("set-1", application_id="webex"))
                 for _ in range(2)]
        other_app = hub.open_channel(WEBEX, channel_request("set-3", application_id="other"))
        for channel in (*first, other_app):
            await written(channel)
        second = hub.open_channel(WEBEX, channel_request("set-2", application_id="webex"))
        for channel in first:
            assert await written(channel) == [terminated(channel.id, "DuplicateChannelSet"), None]
        assert await written(other_app) == []
        assert await written(second) == [
            f'{HEAD}\n<Channel xmlns="{NS}"><channelId>{second.id}</channelId>'
            "<expires>3600</expires></Channel>"]
        assert hub.channel_count == 2
    run(scenario())


def test_deleting_a_channel_sends_channel_terminated_event_explicit_delete_before_the_end(caplog):
    async def scenario():
        hub = make_hub()
        channel = hub.open_channel(WEBEX, channel_request())
        await written(channel)
        with caplog.at_level(logging.INFO, logger="xsp.cti"):
            hub.delete_channel(WEBEX, channel.id)
        assert await written(channel) == [terminated(channel.id, "ExplicitDelete"), None]
        assert f"channel {channel.id} of {WEBEX_CN} terminated (ExplicitDelete): deleted by " \
               "its client" in caplog.text
    run(scenario())


def test_shutdown_uses_a_reason_of_the_list_and_the_log_says_what_happened(caplog):
    async def scenario():
        hub = make_hub()
        channel = hub.open_channel(WEBEX, channel_request())
        await written(channel)
        with caplog.at_level(logging.INFO, logger="xsp.cti"):
            reader = asyncio.ensure_future(written(channel, timeout=1))
            await hub.close()
            assert await reader == [terminated(channel.id, "ExplicitDelete"), None]
        assert f"channel {channel.id} of {WEBEX_CN} terminated (ExplicitDelete): the server " \
               "is shutting down" in caplog.text
    run(scenario())


def test_expires_below_3600_are_raised_and_above_the_system_maximum_lowered():
    async def scenario():
        clock = FakeClock()
        hub = make_hub(clock=clock, max_channel_expires=7200, max_subscription_expires=5000)
        channel = hub.open_channel(WEBEX, channel_request(expires=60))
        assert await written(channel) == [
            f'{HEAD}\n<Channel xmlns="{NS}"><channelId>{channel.id}</channelId>'
            "<expires>3600</expires></Channel>"]
        assert hub.refresh_channel(WEBEX, channel.id, 10**9) == 7200
        subscription, granted = hub.subscribe(WEBEX, ALICE, subscription_request(expires=1))
        assert (granted, hub.refresh_subscription(WEBEX, subscription.id, 10**6)) == (3600, 5000)
        clock.advance(7199)
        hub.sweep()
        assert hub.channel_count == 1
        await written(channel)
        clock.advance(2)
        hub.sweep()
        assert await written(channel) == [terminated(channel.id, "Expired"), None]
    run(scenario())


def test_min_expires_is_an_emulator_option_for_tests_that_need_short_lives():
    async def scenario():
        hub = make_hub(min_expires=5)
        channel = hub.open_channel(WEBEX, channel_request(expires=2))
        assert (await written(channel))[0].endswith("<expires>5</expires></Channel>")
        with pytest.raises(ValueError):
            make_hub(min_expires=0)
    run(scenario())


# --- EventResponse status codes --------------------------------------------------------

async def _two_channels(**options):
    hub = make_hub(**options)
    channels = [hub.open_channel(WEBEX, channel_request()) for _ in range(2)]
    subscription, _ = hub.subscribe(WEBEX, ALICE, subscription_request())
    found = []
    for channel in channels:
        found += [(channel, event(d)) for d in (await written(channel))[1:]]
    ((where, first),) = found
    other = channels[1] if where is channels[0] else channels[0]
    return hub, subscription, where, other, first


def test_404_terminates_the_channel_unknown_channel_and_moves_the_event_to_the_next():
    async def scenario():
        hub, _, where, other, first = await _two_channels()
        hub.acknowledge(WEBEX, EventResponse(first.event_id, 404, "Unknown channel"))
        assert await written(where) == [terminated(where.id, "UnknownChannel"), None]
        (again,) = [event(d) for d in await written(other)]
        assert (again.event_id, again.sequence_number, again.channel_id) == (
            first.event_id, 1, other.id)
        assert again.xml == subscription_event(again, ON_HOOK_STATE)
        hub.acknowledge(WEBEX, EventResponse(first.event_id))
        assert (hub.channel_count, hub.unacknowledged, hub.stats.rejected) == (1, 0, 1)
    run(scenario())


def test_481_deletes_the_subscription_and_drops_the_event():
    async def scenario():
        hub, subscription, where, other, first = await _two_channels()
        hub.acknowledge(WEBEX, EventResponse(first.event_id, 481, "Unknown subscription"))
        assert (hub.subscription_count, hub.unacknowledged) == (0, 0)
        with pytest.raises(XsiError) as gone:
            hub.refresh_subscription(WEBEX, subscription.id, None)
        assert gone.value.code is ErrorCode.NO_SUCH_SUBSCRIPTION
        hub.publish("alice@example.com", hook_status("Off-Hook"))
        assert await written(where) == [] and await written(other) == []
    run(scenario())


def test_500_tries_the_next_channel_and_drops_the_event_when_none_is_left():
    async def scenario():
        hub, _, where, other, first = await _two_channels()
        hub.acknowledge(WEBEX, EventResponse(first.event_id, 500, "Failed"))
        (again,) = [event(d) for d in await written(other)]
        assert (again.event_id, again.channel_id) == (first.event_id, other.id)
        hub.acknowledge(WEBEX, EventResponse(first.event_id, 500, "Failed"))
        assert await written(where) == [] and await written(other) == []
        assert (hub.unacknowledged, hub.channel_count, hub.stats.undeliverable) == (0, 2, 1)
    run(scenario())


def test_400_drops_the_event_and_nothing_else():
    async def scenario():
        clock = FakeClock()
        hub, _, where, other, first = await _two_channels(clock=clock)
        hub.acknowledge(WEBEX, EventResponse(first.event_id, 400, "Bad event"))
        clock.advance(60)
        hub.sweep()
        assert await written(where) == [] and await written(other) == []
        assert (hub.unacknowledged, hub.channel_count, hub.subscription_count) == (0, 2, 1)
    run(scenario())


def test_an_event_response_status_code_outside_the_schema_is_refused():
    with pytest.raises(XsiError) as refused:
        parse_event_response(f'<EventResponse xmlns="{NS}"><eventID>e</eventID>'
                             "<statusCode>302</statusCode><reason>Moved</reason></EventResponse>")
    assert (refused.value.status, refused.value.summary) == (
        400, "EventResponse: statusCode must be one of 200, 400, 404, 481, 500, got '302'")

"""The hub's limits (``emu limit``) on a fake clock: channels, channel sets and
subscriptions per client and in all, refused with an ErrorInfo that names the limit; a
set's backlog bounded in count and age without sorting; a channel whose client does not
read ended as NonResponsiveChannel; an applicationId past the schema's 256 characters
refused; and one log line, not one per event, for what is dropped or refused."""
from __future__ import annotations

import logging
import time

import pytest

from tests._xsi_support import (WEBEX_CN, FakeClock, channel_request, make_hub, queued, run,
                                subscription_request)
from xsp.config.model import Limits
from xsp.cti.channels import Target
from xsp.cti.documents import parse_channel_request, parse_subscription_request
from xsp.cti.errors import ErrorCode, XsiError
from xsp.cti.eventdata import hook_status
from xsp.cti.identity import Client
from xsp.cti.hub import DELETED
from xsp.webex.received import XsiEvent

WEBEX = Client(WEBEX_CN, True)
OTHER = Client("other.example.com", True)
ALICE = Target(user_id="alice@example.com")


def refused(call, code: ErrorCode, summary: str) -> None:
    with pytest.raises(XsiError) as caught:
        call()
    assert (caught.value.code, caught.value.status, caught.value.summary) == (
        code, code.status, summary)


def warnings(caplog: pytest.LogCaptureFixture, words: str) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.levelno == logging.WARNING and words in r.getMessage()]


def test_a_client_s_subscriptions_are_capped_replacing_one_takes_no_room(caplog):
    caplog.set_level(logging.INFO, logger="xsp.cti")

    async def scenario():
        hub = make_hub(limits=Limits(subscriptions_per_client=3))
        hub.open_channel(WEBEX, channel_request())
        hub.open_channel(OTHER, channel_request())
        for app in ("a", "b", "c"):
            hub.subscribe(WEBEX, ALICE, subscription_request(application_id=app))
        summary = (f"Client {WEBEX_CN} has 3 subscriptions, the most one client may "
                   "(emu limit subscriptionsPerClient); delete one first")
        for _ in range(20):
            refused(lambda: hub.subscribe(WEBEX, ALICE, subscription_request(application_id="d")),
                    ErrorCode.CLIENT_SUBSCRIPTION_LIMIT, summary)
        replaced, _ = hub.subscribe(WEBEX, ALICE, subscription_request(application_id="c"))
        hub.subscribe(OTHER, ALICE, subscription_request(application_id="d"))  # not its limit
        hub.unsubscribe(WEBEX, replaced.id)
        hub.subscribe(WEBEX, ALICE, subscription_request(application_id="d"))
        assert hub.subscription_count == 4
        assert warnings(caplog, "refused") == [f"refused {WEBEX_CN}: {summary}"]
    run(scenario())


def test_the_node_s_subscriptions_channels_and_a_client_s_channels_and_sets_are_capped():
    async def scenario():
        hub = make_hub(limits=Limits(subscriptions=2, channels=3, channels_per_client=2,
                                     channel_sets_per_client=2))
        hub.open_channel(WEBEX, channel_request("set-1"))
        hub.open_channel(WEBEX, channel_request("set-2"))
        refused(lambda: hub.open_channel(WEBEX, channel_request("set-1")),
                ErrorCode.CLIENT_CHANNEL_LIMIT,
                f"Client {WEBEX_CN} has 2 channels open, the most one client may "
                "(emu limit channelsPerClient); close one first")
        hub.open_channel(OTHER, channel_request("set-1"))
        refused(lambda: hub.open_channel(OTHER, channel_request("set-1")), ErrorCode.NODE_LIMIT,
                "The node holds 3 channels, its limit (emu limit channels); try again later")
        hub.limits = Limits(channel_sets_per_client=2)
        refused(lambda: hub.open_channel(WEBEX, channel_request("set-3")),
                ErrorCode.CLIENT_CHANNEL_SET_LIMIT,
                f"Client {WEBEX_CN} has 2 channel sets, the most one client may "
                "(emu limit channelSetsPerClient); open the channel in one of them, or "
                "delete the subscriptions of one no longer used")
        hub.limits = Limits(subscriptions=2)
        hub.subscribe(WEBEX, ALICE, subscription_request("set-1", application_id="a"))
        hub.subscribe(OTHER, ALICE, subscription_request("set-1", application_id="a"))
        refused(lambda: hub.subscribe(WEBEX, ALICE, subscription_request("set-2")),
                ErrorCode.NODE_LIMIT,
                "The node holds 2 subscriptions, its limit (emu limit subscriptions); "
                "try again later")
        assert (ErrorCode.CLIENT_CHANNEL_LIMIT.status, ErrorCode.NODE_LIMIT.status) == (403, 503)
    run(scenario())


def test_a_set_without_a_channel_keeps_a_bounded_backlog_for_a_bounded_time(caplog):
    """Events beyond ``backlog`` drop the longest-waiting one, events older than
    ``backlog_seconds`` go at the next sweep, one log line each way; a channel that
    opens then gets the rest in publication order."""
    caplog.set_level(logging.INFO, logger="xsp.cti")

    async def scenario():
        clock = FakeClock()
        hub = make_hub(clock=clock, limits=Limits(backlog=10, backlog_seconds=60))
        channel = hub.open_channel(WEBEX, channel_request())
        hub.subscribe(WEBEX, ALICE, subscription_request())
        hub.terminate(channel, DELETED)
        await queued(channel)
        for n in range(50):
            hub.publish("alice@example.com", hook_status("Off-Hook" if n % 2 else "On-Hook"))
        assert hub.unacknowledged == 10 + 1  # the backlog, and the subscription event sent
        full = warnings(caplog, "backlog full")
        assert len(full) == 1 and full[0].startswith(
            f"channel set set-1 of {WEBEX_CN}: no channel, backlog full (10 events, emu limit "
            "backlog); event ")
        clock.advance(30)
        hub.publish("alice@example.com", hook_status("Off-Hook"))  # drops one more, quietly
        clock.advance(31)
        hub.sweep()
        expired = warnings(caplog, "waited")
        assert expired == [f"channel set set-1 of {WEBEX_CN}: 9 event(s) waited 60 s for a "
                           "channel (emu limit backlogSeconds); dropped"]
        again = hub.open_channel(WEBEX, channel_request())
        sent = [e for e in await queued(again) if isinstance(e, XsiEvent)]
        # The subscription event, sent again when its acknowledgement timed out, and the
        # event of 30 s ago.
        assert [e.sequence_number for e in sent] == [1, 52]
    run(scenario())


def test_twenty_thousand_events_into_a_full_backlog_take_little_time_and_one_line(caplog):
    """The case that froze the node: a client with many subscriptions on one user that
    reads nothing. 5,000 subscriptions (the per-client default) overflow its channel's
    outbox, which ends; then four events: 20,000 deliveries into a backlog of 1,000,
    quickly, and one log line for all the drops."""
    caplog.set_level(logging.INFO, logger="xsp.cti")

    async def scenario():
        hub = make_hub()
        channel = hub.open_channel(WEBEX, channel_request())
        for n in range(5000):
            hub.subscribe(WEBEX, ALICE, subscription_request(application_id=f"app-{n}"))
        assert channel.closed and hub.channel_count == 0
        started = time.perf_counter()
        for state in ("Off-Hook", "On-Hook", "Off-Hook", "On-Hook"):
            hub.publish("alice@example.com", hook_status(state))
        elapsed = time.perf_counter() - started
        assert hub.stats.undeliverable >= 19_000
        assert len(warnings(caplog, "backlog full")) == 1
        assert elapsed < 3.0, elapsed
    run(scenario())


def test_a_channel_whose_client_does_not_read_ends_as_non_responsive(caplog):
    caplog.set_level(logging.INFO, logger="xsp.cti")

    async def scenario():
        hub = make_hub(limits=Limits(outbox_kib=4))
        channel = hub.open_channel(WEBEX, channel_request())
        hub.subscribe(WEBEX, ALICE, subscription_request())
        for n in range(40):  # about 1 KiB each, never read
            hub.publish("alice@example.com", hook_status("Off-Hook" if n % 2 else "On-Hook"))
        found = await queued(channel)
        assert len(found) == 2 and found[1] is None
        assert isinstance(found[0], XsiEvent)
        assert (found[0].type, found[0].channel_id, found[0].fields) == (
            "ChannelTerminatedEvent", channel.id, {"reason": "NonResponsiveChannel"})
        lines = warnings(caplog, "not read")
        assert len(lines) == 1 and lines[0].startswith(
            f"channel {channel.id} of {WEBEX_CN}: 4 KiB written and not read (emu limit "
            "outboxKiB); ")
        assert hub.channel_count == 0
    run(scenario())


@pytest.mark.parametrize("parse, root", [(parse_channel_request, "Channel"),
                                         (parse_subscription_request, "Subscription")])
def test_an_application_id_past_the_schema_s_256_characters_is_refused(parse, root):
    ns = "http://schema.broadsoft.com/xsi"
    body = (f'<{root} xmlns="{ns}"><event>Advanced Call</event><channelSetId>s</channelSetId>'
            f"<applicationId>{'a' * 257}</applicationId></{root}>")
    refused(lambda: parse(body), ErrorCode.INVALID_VALUE,
            f"{root}: applicationId is longer than 256 characters")
    parse(body.replace("a" * 257, "a" * 256))

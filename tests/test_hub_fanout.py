"""An event for thousands of subscriptions does not hold the loop: it is handed out in
slices, the loop serving others in between, and still in publication order."""
from __future__ import annotations

import asyncio

from tests._xsi_support import (WEBEX_CN, channel_request, make_hub, queued, run,
                                subscription_request)
from xsp.cti.channels import Target
from xsp.cti.eventdata import hook_status
from xsp.cti.identity import Client
from xsp.config.model import Limits
from xsp.webex.received import XsiEvent

WEBEX = Client(WEBEX_CN, True)
ALICE = Target(user_id="alice@example.com")
SETS = 300
# One client with a channel set per subscription: within the node's limits for this test.
ROOM = Limits(channels=SETS, channels_per_client=SETS, channel_sets_per_client=SETS)


def test_a_wide_event_goes_out_in_slices_with_the_loop_served_between_them_in_order():
    async def scenario():
        hub = make_hub(limits=ROOM)
        channels = []
        for n in range(SETS):
            channels.append(hub.open_channel(WEBEX, channel_request(f"set-{n}")))
            hub.subscribe(WEBEX, ALICE, subscription_request(f"set-{n}",
                                                             application_id=f"app-{n}"))
        hub.fanout_slice = 0.0
        hub.fanout_whole = 0  # slice even this narrow hand-out  # a turn of the loop after every few deliveries
        before = hub.stats.published
        seen_between: list[int] = []
        asyncio.get_running_loop().call_soon(
            lambda: seen_between.append(hub.stats.published - before))
        hub.publish("alice@example.com", hook_status("Off-Hook"))
        hub.publish("alice@example.com", hook_status("On-Hook"))
        handed_at_once = hub.stats.published - before
        assert 0 < handed_at_once < SETS
        for _ in range(1000):
            if hub.stats.published - before == 2 * SETS:
                break
            await asyncio.sleep(0)
        assert hub.stats.published - before == 2 * SETS
        assert seen_between and seen_between[0] < 2 * SETS  # others ran mid-fan-out
        for channel in (*channels[:2], *channels[-2:]):
            got = [(e.sequence_number, e.fields.get("hookStatus"))
                   for e in (await queued(channel)) if isinstance(e, XsiEvent)]
            assert got[-2:] == [(2, "Off-Hook"), (3, "On-Hook")]
    run(scenario())


def test_an_event_published_before_a_subscription_ends_is_not_handed_to_it_afterwards():
    async def scenario():
        hub = make_hub(limits=ROOM)
        subscriptions = []
        for n in range(SETS):
            hub.open_channel(WEBEX, channel_request(f"set-{n}"))
            subscription, _ = hub.subscribe(WEBEX, ALICE, subscription_request(
                f"set-{n}", application_id=f"app-{n}"))
            subscriptions.append(subscription)
        hub.fanout_slice = 0.0
        hub.fanout_whole = 0  # slice even this narrow hand-out
        before = hub.stats.published
        hub.publish("alice@example.com", hook_status("Off-Hook"))
        hub.unsubscribe(WEBEX, subscriptions[-1].id)  # still waiting for its slice
        for _ in range(1000):
            await asyncio.sleep(0)
        assert hub.stats.published - before == SETS - 1
    run(scenario())

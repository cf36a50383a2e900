"""A connection that drops ends its channels at once, and what they were given and their
client did not acknowledge goes to the set's other open channel at once, not at the
acknowledgement timeout: same eventIDs, same sequence numbers, in order, and nothing
acknowledged before the drop comes again. An open channel that does not acknowledge
still waits for the timeout (tests/test_xsi_hub.py)."""
from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET

from tests._xsi_support import (WEBEX_CN, FakeClock, channel_request, make_hub, queued, run,
                                serve_cti, subscription_request)
from tests.test_ctiproto_interface import (XSI, Wire, event_response, event_type,
                                           open_channel, subscribe, text, xsi)
from xsp.cti.calls import CallSimulator
from xsp.cti.channels import Target
from xsp.cti.eventdata import hook_status
from xsp.cti.identity import Client
from xsp.webex.received import XsiEvent

WEBEX = Client(WEBEX_CN, True)


def _identity(event: ET.Element) -> tuple[str, str, str]:
    document = xsi(event)
    return (text(document, f"{{{XSI}}}eventID") or "",
            text(document, f"{{{XSI}}}sequenceNumber") or "", event_type(event))


def test_unacknowledged_events_of_a_dropped_cti_connection_reach_the_other_at_once():
    async def scenario() -> None:
        # An acknowledgement timeout far longer than the test: only the drop can move them.
        hub = make_hub(ack_timeout=60, sweep_interval=0.05)
        async with serve_cti(hub) as listener:
            port = listener.bound[1]
            lost, kept = await Wire.connect(port), await Wire.connect(port)
            lost_channel = await open_channel(lost)
            await subscribe(lost, "2")
            (first,) = await lost.events(1)
            await lost.send(event_response(text(first, "requestId") or "",
                                           text(xsi(first), f"{{{XSI}}}eventID") or ""))
            await CallSimulator(hub).run_call("alice@example.com", "bob@example.com",
                                              answer_after=0, release_after=0)
            unanswered = [_identity(e) for e in await lost.events(6)]
            assert [s for _, s, _ in unanswered] == ["2", "3", "4", "5", "6", "7"]
            for _ in range(50):  # the first one's acknowledgement has arrived
                if hub.unacknowledged == 6:
                    break
                await asyncio.sleep(0.02)
            assert hub.unacknowledged == 6
            kept_channel = await open_channel(kept, "1")  # same channel set
            lost.writer.transport.abort()
            started = asyncio.get_running_loop().time()
            again = await kept.events(6)
            assert asyncio.get_running_loop().time() - started < 2
            assert hub.channel_count == 1
            assert [_identity(e) for e in again] == unanswered
            assert {text(xsi(e), f"{{{XSI}}}channelId") for e in again} == {kept_channel}
            assert kept_channel != lost_channel
            for event in again:
                await kept.send(event_response(text(event, "requestId") or "",
                                               text(xsi(event), f"{{{XSI}}}eventID") or ""))
            for _ in range(50):
                if hub.unacknowledged == 0:
                    break
                await asyncio.sleep(0.02)
            assert hub.unacknowledged == 0
            # nothing comes twice: neither the acknowledged first event nor these
            try:
                extra = await kept.receive(timeout=0.5)
            except asyncio.TimeoutError:
                extra = None
            assert extra is None, ET.tostring(extra)
            await kept.close()
    run(scenario())


def test_a_dropped_channel_hands_over_what_is_still_in_its_outbox():
    """The hub alone: events queued on the channel and never written move too."""
    async def scenario() -> None:
        clock = FakeClock()
        hub = make_hub(clock=clock)
        lost = hub.open_channel(WEBEX, channel_request())
        hub.subscribe(WEBEX, Target(user_id="alice@example.com"), subscription_request())
        hub.publish("alice@example.com", hook_status("Off-Hook"))
        kept = hub.open_channel(WEBEX, channel_request())
        hub.channel_gone(lost)  # its connection broke before anything was written
        got = [(e.type, e.sequence_number, e.channel_id)
               for e in await queued(kept) if isinstance(e, XsiEvent)]
        assert got == [("CallSubscriptionEvent", 1, kept.id), ("HookStatusEvent", 2, kept.id)]
        assert hub.stats.redelivered == 2
    run(scenario())

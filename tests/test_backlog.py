"""The backlog of a channel set without a channel: arrival order kept without sorting,
publication order on replay, the longest-waiting event dropped first, expiry by age."""
from __future__ import annotations

from xsp.cti.backlog import Backlog
from xsp.cti.channels import Delivery
from xsp.cti.documents import EventData


class CountedOrder(int):
    """A publication order that counts how often it is compared."""
    comparisons = 0

    def __lt__(self, other: object) -> bool:
        CountedOrder.comparisons += 1
        return int(self) < int(other)  # type: ignore[call-overload]


def delivery(order: int) -> Delivery:
    return Delivery(event_id=f"e{order}", order=CountedOrder(order), owner="client",
                    certified=True, set_key=("client", "set"), subscription_id="s",
                    sequence_number=order, target_id="alice@example.com",
                    application_id="app", data=EventData("HookStatusEvent"))


def test_adding_never_compares_and_a_replay_is_in_publication_order() -> None:
    backlog = Backlog()
    CountedOrder.comparisons = 0
    # Redeliveries come back after newer events: arrival order is not publication order.
    for order in [*range(2, 20_002), 1]:
        backlog.add(delivery(order), now=float(order))
    assert CountedOrder.comparisons == 0
    replay = backlog.take()
    assert [d.order for d in replay] == list(range(1, 20_002))
    assert len(backlog) == 0


def test_the_longest_waiting_goes_first_and_a_returning_event_waits_from_its_return() -> None:
    backlog = Backlog()
    first, second = delivery(1), delivery(2)
    backlog.add(first, now=0.0)
    backlog.add(second, now=1.0)
    backlog.add(first, now=2.0)  # sent, not acknowledged, back again
    assert backlog.pop_longest_waiting() is second
    assert list(backlog) == [first]


def test_expiry_takes_the_events_older_than_the_deadline_only() -> None:
    backlog = Backlog()
    events = [delivery(n) for n in range(5)]
    for n, event in enumerate(events):
        backlog.add(event, now=float(n))
    assert backlog.expire(deadline=2.0) == events[:2]
    assert list(backlog) == events[2:]
    assert backlog.expire(deadline=2.0) == []


def test_discard_takes_out_that_delivery_only() -> None:
    backlog = Backlog()
    kept = delivery(1)
    backlog.add(kept, now=0.0)
    assert not backlog.discard(delivery(1))  # the same id, another object
    assert backlog.discard(kept) and not backlog

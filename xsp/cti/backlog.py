"""The events a channel set keeps while it has no open channel.

Kept in the order they arrived, which is all that adding, removing, dropping the one
that waited longest and expiring need: each is constant time (expiry: per expired
event), and nothing is sorted while events come in. Only a replay, when a channel
opens, puts them back in publication order, once. (The list this replaces was sorted
again on every append: with 20,000 subscriptions one call froze the node for seconds.)
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # channels keeps a Backlog in each channel set
    from xsp.cti.channels import Delivery


class Backlog:
    def __init__(self) -> None:
        # event id -> (when it came in, the delivery); a dict keeps arrival order.
        self._waiting: dict[str, tuple[float, Delivery]] = {}

    def __len__(self) -> int:
        return len(self._waiting)

    def __bool__(self) -> bool:
        return bool(self._waiting)

    def __iter__(self) -> Iterator[Delivery]:
        """In arrival order."""
        return (delivery for _, delivery in self._waiting.values())

    def add(self, delivery: Delivery, now: float) -> None:
        self._waiting.pop(delivery.event_id, None)  # back again: it waits from now
        self._waiting[delivery.event_id] = (now, delivery)

    def discard(self, delivery: Delivery) -> bool:
        """Take ``delivery`` out if it waits here; True when it did."""
        entry = self._waiting.get(delivery.event_id)
        if entry is None or entry[1] is not delivery:
            return False
        del self._waiting[delivery.event_id]
        return True

    def pop_longest_waiting(self) -> Delivery:
        event_id = next(iter(self._waiting))
        return self._waiting.pop(event_id)[1]

    def expire(self, deadline: float) -> list[Delivery]:
        """Take out and return the deliveries that came in before ``deadline``."""
        expired: list[Delivery] = []
        for event_id, (since, delivery) in self._waiting.items():
            if since >= deadline:
                break
            expired.append(delivery)
        for delivery in expired:
            del self._waiting[delivery.event_id]
        return expired

    def take(self) -> list[Delivery]:
        """Every delivery, in publication order; the backlog is then empty."""
        waiting = sorted((d for _, d in self._waiting.values()), key=lambda d: d.order)
        self._waiting.clear()
        return waiting

"""The live feed: the node's observer, bounded history, and the JSON messages it sends.

Every WebSocket client of the page (and any script following ``/feed``) gets a
``snapshot`` first, then one message per change. The feed keeps:

- the last ``TIMELINE`` connections (admitted and refused) and the last ``EVENTS`` events
  with their acknowledgement: older ones fall off, so a node that runs for weeks holds a
  fixed amount;
- the last listener and channel views it sent, so it sends ``nodes`` and ``hub`` messages
  only when they differ. It reads them at once when the node reports a change, and every
  ``poll_interval`` seconds otherwise, which is how `what awaits a restart` (written by a
  shell, maybe in another process) and channel expiry reach the page. While nobody
  follows it reads nothing; the next follower's snapshot reads the node first.

A client that reads too slowly (its queue of ``QUEUE`` messages full) is disconnected
rather than let the queue grow; the page reconnects and gets a fresh snapshot.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict, deque
from typing import TYPE_CHECKING, Any

from xsp.live.model import plain
from xsp.live.observer import Admitted, safely
from xsp.live.views import CTI_KIND, Sources

if TYPE_CHECKING:
    from xsp.cti.channels import Delivery
    from xsp.listener.refusal import Refusal

log = logging.getLogger("xsp.live")

VERSION = 1
TIMELINE = 500  # connections kept (admitted and refused)
EVENTS = 500  # events kept, with their acknowledgement
CHANNEL_SETS = 200  # channel sets listed; the hub message says how many exist
QUEUE = 1000  # messages waiting for one slow client before it is disconnected


class Subscriber:
    """One follower of the feed: messages queue here until its WebSocket writes them."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(QUEUE)
        self.overflowed = False

    def put(self, message: dict[str, Any] | None) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.overflowed = True
            # Make room for the end-of-stream mark so the writer stops.
            self.queue.get_nowait()
            self.queue.put_nowait(None)


class LiveFeed:
    """Implements ``observer.Observer``; runs on the node's event loop."""

    def __init__(self, sources: Sources, *, poll_interval: float = 0.5,
                 timeline: int = TIMELINE, events: int = EVENTS,
                 channel_sets: int = CHANNEL_SETS) -> None:
        self.sources = sources
        self.poll_interval = poll_interval
        self.channel_set_limit = channel_sets
        self.timeline: deque[dict[str, Any]] = deque(maxlen=timeline)
        self.events: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.events_limit = events
        self._first_sent: dict[str, float] = {}  # event id -> monotonic time of its first send
        self._subscribers: set[Subscriber] = set()
        self._nodes: list[Any] = []
        self._hub: dict[str, Any] = {}
        self._cucm: list[Any] = []
        self._kinds: dict[str, str] = {}  # "xsp1 127.0.0.1:8012" -> what the listener speaks
        self._refresh_scheduled = False
        self._poller: asyncio.Task[None] | None = None
        self._sequence = 0

    # --- life -------------------------------------------------------------------------

    def start(self) -> None:
        self.refresh()
        if self._poller is None:
            self._poller = asyncio.get_running_loop().create_task(self._poll())

    async def stop(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            try:
                await self._poller
            except asyncio.CancelledError:
                pass
            self._poller = None
        for subscriber in list(self._subscribers):
            subscriber.put(None)
        self._subscribers.clear()

    def subscribe(self) -> Subscriber:
        if not self._subscribers:
            self.refresh()  # nobody followed: the views may be stale
        subscriber = Subscriber()
        subscriber.put(self.snapshot())
        self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    @property
    def followers(self) -> int:
        return len(self._subscribers)

    # --- the observer -----------------------------------------------------------------

    # Each is called by the node in the middle of its own work: a failure here is logged
    # and goes no further (``safely``).

    def nodes_changed(self) -> None:
        safely(self._schedule_refresh)

    def connection_admitted(self, admitted: Admitted) -> None:
        safely(lambda: self._connection(
            "admitted", admitted.listener, admitted.peer, admitted.subject,
            protocol=admitted.protocol, suite=admitted.suite))

    def connection_refused(self, refusal: "Refusal") -> None:
        safely(lambda: self._connection(
            "refused", refusal.listener, refusal.peer, refusal.subject,
            reason=refusal.reason, alert=refusal.alert, log_line=refusal.log_line))

    def request_refused(self, listener: str, peer: str, who: str, reason: str, status: int,
                        log_line: str) -> None:
        # The CTI interface answers a refused request in its own response message, the
        # Xsi interface with an HTTP status: the page says which one the client got.
        on_cti = self._kinds.get(listener) == CTI_KIND
        safely(lambda: self._connection(
            "refused", listener, peer, who, reason=reason,
            http_status=None if on_cti else status, cti_status=status if on_cti else None,
            log_line=log_line))

    def cti_refused(self, listener: str, peer: str, login: str, code: str, words: str,
                    detail: str, log_line: str) -> None:
        safely(lambda: self._connection(
            "refused", listener, peer, login, reason=detail, cti_error=code, cti_words=words,
            log_line=log_line))

    def event_sent(self, delivery: "Delivery") -> None:
        safely(lambda: self._event_sent(delivery))

    def event_acknowledged(self, delivery: "Delivery") -> None:
        safely(lambda: self._event_acknowledged(delivery))

    def _event_sent(self, delivery: "Delivery") -> None:
        now = time.monotonic()
        first = self._first_sent.setdefault(delivery.event_id, now)
        entry = {"event_id": delivery.event_id, "type": delivery.data.type,
                 "user": delivery.target_id, "client": delivery.owner,
                 "subscription": delivery.subscription_id,
                 "sequence": delivery.sequence_number, "channel": delivery.channel_id,
                 "attempt": delivery.attempts, "sent_at": _epoch(first),
                 "acknowledged_at": None, "latency_ms": None}
        self.events[delivery.event_id] = entry
        self.events.move_to_end(delivery.event_id)
        while len(self.events) > self.events_limit:
            gone, _ = self.events.popitem(last=False)
            self._first_sent.pop(gone, None)
        self._publish({"type": "event", "event": dict(entry)})  # the entry changes on ack
        self._schedule_refresh()

    def _event_acknowledged(self, delivery: "Delivery") -> None:
        now = time.monotonic()
        first = self._first_sent.pop(delivery.event_id, None)
        entry = self.events.get(delivery.event_id)
        latency = round((now - first) * 1000, 1) if first is not None else None
        if entry is not None:
            entry.update(acknowledged_at=_epoch(now), latency_ms=latency)
        self._publish({"type": "ack", "event_id": delivery.event_id,
                       "acknowledged_at": _epoch(now), "latency_ms": latency})
        self._schedule_refresh()

    # --- messages ---------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        return {"type": "snapshot", "version": VERSION, "now": time.time(),
                "limits": {"timeline": self.timeline.maxlen, "events": self.events_limit,
                           "channel_sets": self.channel_set_limit},
                "nodes": self._nodes, "cucm": self._cucm, "hub": self._hub,
                "timeline": list(self.timeline), "events": list(self.events.values())}

    def refresh(self) -> None:
        """Read the node now; send what differs from what the followers have."""
        self._refresh_scheduled = False
        try:
            nodes = plain(self.sources.nodes())
            hub = plain(self.sources.hub(self.channel_set_limit))
            cucm = plain(self.sources.cucm())
        except Exception:  # noqa: BLE001 - a bug here must not stop the node or the feed
            log.exception("live page: reading the node failed")
            return
        if nodes != self._nodes:
            self._nodes = nodes
            self._kinds = {f"{n['name']} {l['interface']}": l["kind"]
                           for n in nodes for l in n["listeners"]}
            self._publish({"type": "nodes", "nodes": nodes})
        if cucm != self._cucm:
            self._cucm = cucm
            self._publish({"type": "cucm", "cucm": cucm})
        if hub != self._hub:
            self._hub = hub
            self._publish({"type": "hub", "hub": hub})

    def _schedule_refresh(self) -> None:
        # A call rings a dozen events in a few milliseconds: one read of the node for all;
        # and none while nobody follows (the first follower's snapshot reads it).
        if self._refresh_scheduled or not self._subscribers:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # called outside the loop (a synchronous test): read now
            self.refresh()
            return
        self._refresh_scheduled = True
        loop.call_soon(self.refresh)

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval)
            if self._subscribers:
                self.refresh()

    def _connection(self, outcome: str, listener: str, peer: tuple[str, int] | str,
                    subject: str | None, *, protocol: str | None = None,
                    suite: str | None = None, reason: str | None = None,
                    alert: str | None = None, http_status: int | None = None,
                    cti_status: int | None = None, cti_error: str | None = None,
                    cti_words: str | None = None, log_line: str | None = None) -> None:
        self._sequence += 1
        entry = {"id": self._sequence, "at": time.time(), "outcome": outcome,
                 "listener": listener, "peer": peer if isinstance(peer, str) else _peer(peer),
                 "subject": subject, "protocol": protocol, "suite": suite, "reason": reason,
                 "alert": alert, "http_status": http_status, "cti_status": cti_status,
                 "cti_error": cti_error, "cti_words": cti_words, "log_line": log_line}
        self.timeline.append(entry)
        self._publish({"type": "connection", "connection": entry})

    def _publish(self, message: dict[str, Any]) -> None:
        message["now"] = time.time()
        for subscriber in list(self._subscribers):
            subscriber.put(message)
            if subscriber.overflowed:
                self._subscribers.discard(subscriber)


def _peer(peer: tuple[str, int]) -> str:
    host, port = peer
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _epoch(monotonic: float) -> float:
    return round(time.time() - (time.monotonic() - monotonic), 3)

"""The objects the hub keeps: channels, channel sets, subscriptions and pending events.

A channel is one event stream (an HTTP streaming response or a WebSocket). It owns an
outbox of documents that its transport drains, so the hub never waits on a socket and
the transport never needs to know what the hub decided. The outbox is bounded in bytes
(``max_outbox``): a client that stops reading fills it, and the hub then ends the channel
rather than keep what it will not read. A channel set groups the
channels a client opened with the same ``channelSetId``; events of the set's
subscriptions go to one of its channels, and again to another if not acknowledged.
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass, field

from xsp.cti.backlog import Backlog
from xsp.cti.directory import DirectoryUser
from xsp.cti.documents import EventData
from xsp.cti.identity import Client
from xsp.cti.packages import EventPackage

SetKey = tuple[str, str]  # (client id, channelSetId): sets of different clients never mix
_MAX_SEQUENCE = 2**31 - 1


class Channel:
    def __init__(self, channel_id: str, owner: str, set_key: SetKey, *, priority: int,
                 weight: int, expires_at: float, transport: str,
                 application_id: str | None = None, client: Client | None = None,
                 max_outbox: int = 1 << 20) -> None:
        self.id = channel_id
        self.owner = owner
        self.set_key = set_key
        self.priority = priority
        self.weight = weight
        self.expires_at = expires_at
        self.transport = transport
        self.application_id = application_id
        self.granted = 0  # the expires granted when it opened, in seconds
        self.client = client  # as admitted when it opened: asked again on revocation
        self.closed = False
        self.max_outbox = max_outbox
        self.queued = 0       # characters waiting in the outbox
        self.overflowed = False
        self._outbox: asyncio.Queue[str | None] = asyncio.Queue()
        self._finished = asyncio.Event()

    def send(self, document: str) -> bool:
        """Queue ``document``; False when the channel is closed, or when its outbox is
        full (``overflowed`` then says so: the client is not reading)."""
        if self.closed:
            return False
        if self.queued and self.queued + len(document) > self.max_outbox:
            self.overflowed = True
            return False
        self.queued += len(document)
        self._outbox.put_nowait(document)
        return True

    def drop_queued(self) -> int:
        """Empty the outbox of what the client did not read; how many documents."""
        dropped, ended = 0, False
        while not self._outbox.empty():
            if self._outbox.get_nowait() is None:
                ended = True
            else:
                dropped += 1
        self.queued = 0
        if ended:
            self._outbox.put_nowait(None)
        return dropped

    def end(self) -> None:
        """No more documents: the transport ends the stream after those queued."""
        if not self.closed:
            self.closed = True
            self._outbox.put_nowait(None)

    async def documents(self) -> AsyncIterator[str]:
        """What the transport writes, in order, until the channel ends."""
        while True:
            document = await self._next()
            if document is None:
                self.finished()
                return
            yield document

    def next_document(self) -> asyncio.Future[str | None]:
        """One document, for transports that also watch their connection."""
        return asyncio.ensure_future(self._next())

    async def batches(self, most: int = 64) -> AsyncIterator[list[str]]:
        """What the transport writes, as it comes: each batch is what was queued when the
        transport woke (at most ``most`` documents), so one wake-up and one write carry
        a burst of events; until the channel ends."""
        outbox = self._outbox
        while True:
            document = await self._next()
            if document is None:
                self.finished()
                return
            batch = [document]
            ended = False
            while len(batch) < most and not outbox.empty():
                more = outbox.get_nowait()
                if more is None:
                    ended = True
                    break
                self.queued -= len(more)
                batch.append(more)
            yield batch
            if ended:
                self.finished()
                return

    async def _next(self) -> str | None:
        document = await self._outbox.get()
        if document is not None:
            self.queued -= len(document)
        return document

    def finished(self) -> None:
        """Called by the transport once it has stopped writing, for whatever reason."""
        self.closed = True
        self._finished.set()

    async def wait_finished(self) -> None:
        await self._finished.wait()


@dataclass(frozen=True)
class Target:
    """What a subscription watches: one user, a group of an enterprise, an enterprise,
    or (nothing given) the whole system."""

    user_id: str | None = None
    enterprise: str | None = None
    group: str | None = None

    @property
    def system(self) -> bool:
        return self.user_id is None and self.enterprise is None

    @property
    def label(self) -> str:
        if self.user_id is not None:
            return self.user_id
        if self.group is not None:
            return f"{self.enterprise}/{self.group}"
        return "system" if self.system else str(self.enterprise)

    def covers(self, user: DirectoryUser) -> bool:
        if self.user_id is not None:
            return user.user_id == self.user_id
        if self.system:
            return True
        return user.enterprise == self.enterprise and (self.group is None or user.group == self.group)


@dataclass(eq=False)
class Subscription:
    id: str
    owner: str
    certified: bool
    set_key: SetKey
    target: Target
    package: EventPackage
    application_id: str
    expires_at: float
    _sequence: int = 0

    def next_sequence_number(self) -> int:
        # The schema's sequenceNumber is a positive xs:int that wraps to 1 after its maximum.
        self._sequence = self._sequence + 1 if self._sequence < _MAX_SEQUENCE else 1
        return self._sequence


@dataclass(eq=False)
class Delivery:
    """One event on its way to a channel set, until it is acknowledged or given up."""

    event_id: str
    order: int                   # publication order: the backlog is replayed in it
    owner: str
    certified: bool
    set_key: SetKey
    subscription_id: str
    sequence_number: int
    target_id: str
    application_id: str
    data: EventData
    attempts: int = 0
    channel_id: str | None = None
    tried: set[str] = field(default_factory=set)
    deadline: float | None = None  # None while waiting in the backlog


@dataclass(eq=False)
class ChannelSet:
    owner: str
    id: str
    channels: dict[str, Channel] = field(default_factory=dict)
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    backlog: Backlog = field(default_factory=Backlog)
    application_id: str | None = None  # of its latest channel that named one
    _credit: dict[str, int] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.channels and not self.subscriptions

    def open_channels(self) -> list[Channel]:
        return [c for c in self.channels.values() if not c.closed]

    def pick(self, avoid: Collection[str] = (), last: str | None = None) -> Channel | None:
        """The channel for the next send.

        Channels not in ``avoid`` first, else any but ``last``, else any: a redelivery
        goes to another channel whenever the set has one. Among those, the best
        (lowest) priority, shared by weight with smooth weighted round robin so that the
        choice is both proportional and predictable.
        """
        open_ = self.open_channels()
        candidates = ([c for c in open_ if c.id not in avoid]
                      or [c for c in open_ if c.id != last] or open_)
        if not candidates:
            return None
        best = min(c.priority for c in candidates)
        pool = [c for c in candidates if c.priority == best]
        total = sum(c.weight for c in pool)
        for channel in pool:
            self._credit[channel.id] = self._credit.get(channel.id, 0) + channel.weight
        chosen = max(pool, key=lambda c: self._credit[c.id])
        self._credit[chosen.id] -= total
        return chosen

    def forget_channel(self, channel_id: str) -> None:
        self.channels.pop(channel_id, None)
        self._credit.pop(channel_id, None)

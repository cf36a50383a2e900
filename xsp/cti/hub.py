"""The event hub of one XSP|ADP node: channels, subscriptions, delivery and expiry.

All listeners of a node share one hub, so a client may open its channels on one
interface and subscribe or acknowledge on another, as with a real XSP farm. The hub
runs on the node's event loop and never blocks: it puts documents in channel outboxes
and the transports write them.

Delivery. Each event published for a user becomes one ``Delivery`` per subscription
that covers the user and carries that event type, numbered by that subscription's own
sequence. It goes to one channel of the subscription's channel set; if the client has
not answered it (``EventResponse``) within ``ack_timeout`` it goes again, to another
channel of the set when there is one, at most ``max_attempts`` times in all; when a
channel's connection drops, what it was not acknowledged goes to another open channel
of the set at once instead of at the timeout. While a set has no open channel its
events wait in a bounded backlog, replayed in publication order when a channel opens.
The answer's status code acts as the schema says: 200 received; 404 the client does
not know the channel (it is terminated with ``UnknownChannel`` and the event goes to
the next channel); 481 it does not know the subscription (deleted, the event dropped);
500 try the next channel; 400 drop the event.

Identity. A subscription is one per (client, target, package, applicationId): a second
one replaces the first. A channel set is one per (client, applicationId): opening a
channel that names the applicationId of another set terminates that set's channels with
``DuplicateChannelSet``. A subscription without an applicationId takes its channel set
id as one (the emulator's choice: the schema suggests using the same identifier), so
that ``externalApplicationId`` is never empty.

Expiry. Requested expires below ``min_expires`` (3600 s, the schema's minimum) are
raised to it and those above the maximum lowered to it; the maxima are settings
(``emu limit maxChannelExpires`` / ``maxSubscriptionExpires``) that the node passes
at each start. Tests that need short lives lower ``min_expires``: an emulator option,
not a BroadWorks one.

Fan-out. An event that reaches many subscriptions (an enterprise-wide one, thousands of
clients watching one user) is handed out in slices of at most ``fanout_slice`` seconds,
each from its own turn of the loop, so that requests and other connections are served in
between; a later event waits behind the slices still to go, so the order of deliveries
is the order of publication. An event that fits in one slice, which is nearly every
event, is handed out before ``publish`` returns, as before; so is a hand-out of at most
``fanout_whole`` deliveries (5,000: as many subscriptions as one client may hold,
``emu limit subscriptionsPerClient``'s default), whatever time it takes, so that what one
client's subscriptions receive is settled when ``publish`` returns (a full backlog's
drops counted and logged at once). Only a wider hand-out is sliced.

Time. Every deadline (acknowledgement, channel and subscription expiry) is read from
``clock`` and acted on by ``sweep()``, which a background task calls every
``sweep_interval`` seconds; tests drive a fake clock and call ``sweep()`` themselves.

Limits (``limits``, the emulator's ``emu limit`` settings). Channels, channel sets and
subscriptions are counted per client and in all; a request past a limit is refused with
an ``ErrorInfo`` that names it (403 for a client's own limit, 503 for the node's). A
set's backlog keeps at most ``backlog`` events, each for at most ``backlog_seconds``; a
channel whose client leaves ``outbox_kib`` unread is ended (``NonResponsiveChannel``).
Dropped events and refusals are logged at most once every few seconds per kind and
client, since a client can cause them as fast as it likes.

Revocation. ``revoke()`` asks every open channel's client whether it is still allowed
(ClientIdentity, allowClientApp) and ends the channels of those that are not.
"""
from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import NoReturn

from xsp.config.model import MIN_EXPIRES, Limits
from xsp.cti import documents as docs
from xsp.cti import eventdata
from xsp.cti.channels import Channel, ChannelSet, Delivery, SetKey, Subscription, Target
from xsp.cti.directory import Directory, DirectoryUser, UserDirectory
from xsp.cti.documents import (ChannelInfo, ChannelRequest, Envelope, EventData, EventResponse,
                               Node, SubscriptionRequest)
from xsp.cti.errors import ErrorCode, XsiError
from xsp.cti.identity import Client
from xsp.cti.packages import UserState, package, package_names, withdrawn
from xsp.live.observer import NULL_OBSERVER, Observer
from xsp.ratelog import RateLimitedLog

log = logging.getLogger("xsp.cti")

# The longest the hub holds the loop handing out one event's deliveries (see Fan-out);
# the clock is read every _FANOUT_CHECK deliveries (one costs about 30 us).
FANOUT_SLICE = 0.01
# Hand-outs of at most this many deliveries are never sliced (see Fan-out).
FANOUT_WHOLE = 5000
_FANOUT_CHECK = 32


@dataclass(frozen=True)
class Termination:
    """Why the server ends a channel: the reason the client reads, from the schema's
    fixed list, and what really happened, for the log."""

    reason: str
    happened: str


EXPIRED = Termination(docs.EXPIRED, "not refreshed before it expired")
DELETED = Termination(docs.EXPLICIT_DELETE, "deleted by its client")
SHUTTING_DOWN = Termination(docs.EXPLICIT_DELETE, "the server is shutting down")
INTERFACE_STOPPED = Termination(docs.EXPLICIT_DELETE,
                                "its interface stopped (restart or listener change)")
DUPLICATE_SET = Termination(docs.DUPLICATE_CHANNEL_SET,
                            "the client opened another channel set with the same applicationId")
UNKNOWN_CHANNEL = Termination(docs.UNKNOWN_CHANNEL,
                              "its client answered an event with 404 (channel unknown)")
NOT_READING = Termination(docs.NON_RESPONSIVE_CHANNEL,
                          "its client left more than its outbox limit unread "
                          "(emu limit outboxKiB)")


def revoked(why: str) -> Termination:
    # ExplicitDelete: the server deleted the channel, as at shutdown; the schema's list
    # has no reason closer to a client no longer allowed (the emulator's choice).
    return Termination(docs.EXPLICIT_DELETE, f"its client is no longer allowed: {why}")


@dataclass
class HubStats:
    published: int = 0       # deliveries created: one per event and covering subscription
    delivered: int = 0       # first sends
    redelivered: int = 0     # sends after an acknowledgement timed out
    acknowledged: int = 0    # EventResponse 200
    rejected: int = 0        # EventResponse 404, 481, 500 or 400
    undeliverable: int = 0   # given up after max_attempts, or dropped with their channel set
    channels_opened: int = 0
    channels_expired: int = 0
    subscriptions_expired: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class EventHub:
    def __init__(self, directory: Directory, *, ack_timeout: float = 5.0, max_attempts: int = 3,
                 clock: Callable[[], float] = time.monotonic, sweep_interval: float = 0.25,
                 default_expires: int = 3600, min_expires: int = MIN_EXPIRES,
                 max_channel_expires: int | None = None,
                 max_subscription_expires: int | None = None,
                 limits: Limits | None = None, drain_timeout: float = 2.0) -> None:
        """The maxima of expires default to those of ``limits`` (``emu limit``)."""
        limits = limits or Limits()
        if max_channel_expires is None:
            max_channel_expires = limits.max_channel_expires
        if max_subscription_expires is None:
            max_subscription_expires = limits.max_subscription_expires
        if ack_timeout <= 0 or sweep_interval <= 0 or max_attempts < 1:
            raise ValueError("ack_timeout and sweep_interval must be positive, max_attempts >= 1")
        if not 1 <= min_expires <= min(max_channel_expires, max_subscription_expires):
            raise ValueError("min_expires must be at least 1 and at most the maximum expires")
        self.directory = UserDirectory(directory)
        self.ack_timeout = ack_timeout
        self.max_attempts = max_attempts
        self.clock = clock
        self.sweep_interval = sweep_interval
        self.default_expires = default_expires
        self.min_expires = min_expires
        self.max_channel_expires = max_channel_expires
        self.max_subscription_expires = max_subscription_expires
        self.limits = limits
        self.drain_timeout = drain_timeout
        self.stats = HubStats()
        self._sets: dict[SetKey, ChannelSet] = {}
        self._channels: dict[str, Channel] = {}
        self._subscriptions: dict[str, Subscription] = {}
        # publish() looks subscriptions up by the user an event is about: a user
        # subscription under its user, group and enterprise ones apart. The rank keeps
        # the creation order when both kinds cover a user.
        self._by_user: dict[str, dict[str, Subscription]] = {}
        self._wide: dict[str, Subscription] = {}
        self._rank: dict[str, int] = {}
        self._by_identity: dict[tuple[str, Target, str, str], Subscription] = {}
        self._owned: dict[str, int] = {}  # subscriptions per client
        self._quiet = RateLimitedLog(log)
        self._created = 0
        self._pending: dict[str, Delivery] = {}
        self._acknowledged: OrderedDict[str, str] = OrderedDict()  # event id -> owner
        self._order = 0
        self._hook: dict[str, str] = {}
        self._calls: dict[str, dict[str, Node]] = {}
        self._dnd: dict[str, tuple[bool, bool]] = {}  # user -> (active, ringSplash)
        self._sweeper: asyncio.Task[None] | None = None
        # No channel or subscription expires before this: a sweep looks at them only
        # then, so idle channels cost nothing between expiries. A refresh that moves an
        # expiry later leaves it early; the look that finds nothing due corrects it.
        self._next_expiry = math.inf
        # The channel sets that hold a backlog (by identity), the only ones looked at for
        # backlog expiry; a set leaves at the sweep that finds its backlog empty or it gone.
        self._backlogged: dict[int, ChannelSet] = {}
        self._closing = False
        self.observer: Observer = NULL_OBSERVER  # the live page, when the node has one
        # Deliveries still to hand out, in publication order (see Fan-out above).
        self.fanout_slice = FANOUT_SLICE
        self.fanout_whole = FANOUT_WHOLE
        self._fanout: deque[tuple[Subscription, str, EventData]] = deque()
        self._fanning: asyncio.Handle | None = None

    # --- what is there ---------------------------------------------------------------

    @property
    def channel_count(self) -> int:
        return len(self._channels)

    @property
    def subscription_count(self) -> int:
        return len(self._subscriptions)

    @property
    def unacknowledged(self) -> int:
        return len(self._pending)

    def channel_sets(self) -> list[ChannelSet]:
        """Every channel set, with its channels and subscriptions (read only)."""
        return list(self._sets.values())

    def awaiting_acknowledgement(self) -> list[Delivery]:
        """Every event sent or waiting in a backlog and not yet acknowledged."""
        return list(self._pending.values())

    def user_state(self, user_id: str) -> UserState:
        active, splash = self._dnd.get(user_id, (False, False))
        return UserState(self._hook.get(user_id, eventdata.ON_HOOK),
                         tuple(self._calls.get(user_id, {}).values()), active, splash)

    # --- channels --------------------------------------------------------------------

    def open_channel(self, client: Client, request: ChannelRequest, *,
                     transport: str = "http", announce: bool = True) -> Channel:
        """A new channel whose first document is its ``Channel`` reply when ``announce``
        (a stream says it first); else the interface answers the reply itself (the CTI
        interface does, in its response) and ``channel.granted`` holds the expires."""
        if self._closing:
            raise XsiError(ErrorCode.SHUTTING_DOWN, "The server is shutting down")
        self._room_for_channel(client, request.channel_set_id)
        if request.application_id is not None:
            self._end_duplicate_sets(client.client_id, request.channel_set_id,
                                     request.application_id)
        key = (client.client_id, request.channel_set_id)
        channel_set = self._sets.get(key) or self._sets.setdefault(key, ChannelSet(*key))
        if request.application_id is not None:
            channel_set.application_id = request.application_id
        expires = self._grant(request.expires, self.max_channel_expires)
        channel = Channel(str(uuid.uuid4()), client.client_id, key, priority=request.priority,
                          weight=request.weight, expires_at=self.clock() + expires,
                          transport=transport, application_id=request.application_id,
                          client=client, max_outbox=self.limits.outbox_kib * 1024)
        channel.granted = expires
        channel_set.channels[channel.id] = channel
        self._channels[channel.id] = channel
        self._expiring(channel.expires_at)
        self.stats.channels_opened += 1
        if announce:
            channel.send(docs.channel_document(channel.id, expires))
        log.info("channel %s opened for %s (set %s, %s, expires in %ss)", channel.id,
                 client.client_id, request.channel_set_id, transport, expires)
        self._replay_backlog(channel_set)
        self._start_sweeper()
        return channel

    def channel(self, client: Client, channel_id: str) -> Channel:
        channel = self._channels.get(channel_id)
        if channel is None or channel.closed:
            raise XsiError(ErrorCode.NO_SUCH_CHANNEL, f"Channel not found: {channel_id}")
        if channel.owner != client.client_id:
            raise XsiError(ErrorCode.FOREIGN_CHANNEL,
                           f"Channel {channel_id} belongs to another client")
        return channel

    def heartbeat(self, client: Client, channel_id: str) -> None:
        """The client is alive: answer on the channel itself, so it knows the stream is."""
        self._put(self.channel(client, channel_id), docs.HEARTBEAT)

    def refresh_channel(self, client: Client, channel_id: str, expires: int | None) -> int:
        channel = self.channel(client, channel_id)
        granted = self._grant(expires, self.max_channel_expires)
        channel.expires_at = self.clock() + granted
        self._expiring(channel.expires_at)
        return granted

    def delete_channel(self, client: Client, channel_id: str) -> None:
        """The client is told ``ChannelTerminatedEvent`` (ExplicitDelete) before the end."""
        self.terminate(self.channel(client, channel_id), DELETED)

    def channel_gone(self, channel: Channel) -> None:
        """The transport stopped (connection lost or ended): the channel is no more.

        Events it was given and its client did not acknowledge (written, or still in its
        outbox) go at once to another open channel of the set: no answer can come on a
        connection that is gone. Without another channel they wait for their
        acknowledgement timeout as before, then for a channel in the set's backlog.
        """
        channel.finished()
        if self._channels.get(channel.id) is channel:
            self._remove_channel(channel)
            log.info("channel %s of %s closed: its connection ended", channel.id, channel.owner)
            self._hand_over(channel)

    def terminate(self, channel: Channel, why: Termination) -> None:
        """End a channel from the server side, telling the client why."""
        if self._channels.get(channel.id) is channel:
            self._remove_channel(channel)
        if not channel.closed:
            log.info("channel %s of %s terminated (%s): %s", channel.id, channel.owner,
                     why.reason, why.happened)
        channel.send(docs.channel_terminated_document(channel.id, why.reason))
        channel.end()

    def revoke(self) -> int:
        """End the open channels whose clients are no longer allowed where they were
        admitted; how many. Their next request is refused by the interface."""
        ended = 0
        for channel in list(self._channels.values()):
            why = channel.client.revoked() if channel.client is not None else None
            if why is not None and not channel.closed:
                self.terminate(channel, revoked(why))
                ended += 1
        return ended

    def audit(self, client: Client, channel_set_id: str) -> str:
        """The set's open channels; a set without one is not found (a ChannelSet
        document lists at least one channel)."""
        channel_set = self._sets.get((client.client_id, channel_set_id))
        channels = channel_set.open_channels() if channel_set is not None else []
        if not channels:
            raise XsiError(ErrorCode.NO_SUCH_CHANNEL_SET,
                           f"Channel set not found: {channel_set_id} (no open channel)")
        now = self.clock()
        return docs.channel_set_document(
            [ChannelInfo(c.id, channel_set_id, c.priority, c.weight,
                         _remaining(c.expires_at, now), c.application_id)
             for c in channels])

    # --- subscriptions ---------------------------------------------------------------

    def subscribe(self, client: Client, target: Target,
                  request: SubscriptionRequest) -> tuple[Subscription, int]:
        """A new subscription, its first events queued already; and the expires granted."""
        if self._closing:
            raise XsiError(ErrorCode.SHUTTING_DOWN, "The server is shutting down")
        event_package = package(request.event)
        if event_package is None:
            why = withdrawn(request.event)
            raise XsiError(ErrorCode.INVALID_VALUE, f"Event package {request.event!r} refused: {why}"
                           if why else
                           f"Unknown event package {request.event!r}; accepted: the "
                           f"{len(package_names())} Xsi EventPackage names, e.g. Advanced Call, "
                           "Basic Call, Standard Call, Do Not Disturb")
        self._covered(target)
        channel_set = self._sets.get((client.client_id, request.channel_set_id))
        if channel_set is None:
            raise XsiError(ErrorCode.NO_SUCH_CHANNEL_SET,
                           f"Channel set not found: {request.channel_set_id} "
                           "(open a channel in it first)")
        granted = self._grant(request.expires, self.max_subscription_expires)
        application_id = request.application_id or request.channel_set_id
        self._room_for_subscription(client, target, event_package.name, application_id)
        subscription = Subscription(
            str(uuid.uuid4()), client.client_id, client.certified,
            (client.client_id, request.channel_set_id), target, event_package,
            application_id, self.clock() + granted)
        replaced = self._by_identity.get(_identity(subscription))
        if replaced is not None:
            # Its last event goes out before the new subscription's first one.
            self._drop_pending(replaced)
            self._end_subscription(replaced, f"replaced by subscription {subscription.id} "
                                             "(same target, package and applicationId)")
        channel_set.subscriptions[subscription.id] = subscription
        self._subscriptions[subscription.id] = subscription
        self._expiring(subscription.expires_at)
        self._index(subscription)
        log.info("subscription %s: %s for %s (%s) by %s, expires in %ss", subscription.id,
                 event_package.name, target.label, request.channel_set_id, client.client_id, granted)
        self._resync(subscription)
        self._start_sweeper()
        return subscription, granted

    def subscription(self, client: Client, subscription_id: str) -> Subscription:
        subscription = self._subscriptions.get(subscription_id)
        if subscription is None:
            raise XsiError(ErrorCode.NO_SUCH_SUBSCRIPTION,
                           f"Subscription not found: {subscription_id}")
        if subscription.owner != client.client_id:
            raise XsiError(ErrorCode.FOREIGN_SUBSCRIPTION,
                           f"Subscription {subscription_id} belongs to another client")
        return subscription

    def refresh_subscription(self, client: Client, subscription_id: str,
                             expires: int | None) -> int:
        """A refresh is answered like a new subscription: the target's state again."""
        subscription = self.subscription(client, subscription_id)
        granted = self._grant(expires, self.max_subscription_expires)
        subscription.expires_at = self.clock() + granted
        self._expiring(subscription.expires_at)
        self._resync(subscription)
        return granted

    def subscriptions_of(self, client: Client) -> list[Subscription]:
        return [s for s in self._subscriptions.values() if s.owner == client.client_id]

    def remaining(self, deadline: float) -> int:
        """Whole seconds until ``deadline``, as documents state them."""
        return _remaining(deadline, self.clock())

    def unsubscribe(self, client: Client, subscription_id: str) -> None:
        self._remove_subscription(self.subscription(client, subscription_id))
        log.info("subscription %s deleted by %s", subscription_id, client.client_id)

    # --- events ----------------------------------------------------------------------

    def publish(self, user_id: str, event_data: EventData) -> None:
        """An event about ``user_id``: to every subscription that covers them and carries it."""
        self._observe(user_id, event_data)
        covering = list(self._by_user.get(user_id, {}).values())
        if self._wide:
            user = self.directory.get(user_id) or DirectoryUser(user_id)
            covering += [s for s in self._wide.values() if s.target.covers(user)]
            covering.sort(key=lambda s: self._rank[s.id])
        self._fanout.extend((subscription, user_id, event_data) for subscription in covering
                            if event_data.type in subscription.package.carries)
        if self._fanning is None:
            self._fan_out(whole=len(self._fanout) <= self.fanout_whole)

    def _fan_out(self, whole: bool = False) -> None:
        """Hand out queued deliveries for at most ``fanout_slice`` seconds (``whole``:
        all of them); the rest from the loop's next turn. Without a running loop,
        everything at once."""
        self._fanning = None
        fanout, live = self._fanout, self._subscriptions
        deadline = float("inf") if whole else time.perf_counter() + self.fanout_slice
        handed = 0
        while fanout:
            subscription, target_id, data = fanout.popleft()
            if live.get(subscription.id) is subscription:  # not ended since it was published
                self._enqueue(subscription, target_id, data)
            handed += 1
            if handed % _FANOUT_CHECK == 0 and fanout and time.perf_counter() >= deadline:
                try:
                    loop = asyncio.get_running_loop()
                except RuntimeError:
                    continue
                self._fanning = loop.call_soon(self._fan_out)
                return

    def acknowledge(self, client: Client, response: EventResponse) -> None:
        """The client's answer to an event; its status code says what happens next."""
        delivery = self._pending.get(response.event_id)
        if delivery is None:
            owner = self._acknowledged.get(response.event_id)
            if owner == client.client_id:
                return  # acknowledged already, e.g. once per copy of a redelivered event
            if owner is not None:
                raise XsiError(ErrorCode.FOREIGN_EVENT,
                               f"Event {response.event_id} belongs to another client")
            raise XsiError(ErrorCode.NO_SUCH_EVENT,
                           f"Event not found or no longer awaiting acknowledgement: "
                           f"{response.event_id}")
        if delivery.owner != client.client_id:
            raise XsiError(ErrorCode.FOREIGN_EVENT,
                           f"Event {response.event_id} belongs to another client")
        code = response.status_code
        if code == 200:
            self.stats.acknowledged += 1
            self._answered(delivery)
            self.observer.event_acknowledged(delivery)
            return
        self.stats.rejected += 1
        what = (f"event {delivery.event_id} ({delivery.data.type}, sequence "
                f"{delivery.sequence_number} of subscription {delivery.subscription_id})")
        if code == 404:
            channel = self._channels.get(delivery.channel_id or "")
            if channel is not None:
                self.terminate(channel, UNKNOWN_CHANNEL)
            log.info("%s: channel %s unknown to %s; sent to the next channel", what,
                     delivery.channel_id, delivery.owner)
            self._send(delivery)
        elif code == 481:
            subscription = self._subscriptions.get(delivery.subscription_id)
            if subscription is not None:
                self._drop_pending(subscription)
                self._remove_subscription(subscription)
            log.info("%s: subscription unknown to %s (481); subscription deleted, event dropped",
                     what, delivery.owner)
        elif code == 500 and self._untried(delivery):
            log.info("%s: %s failed on channel %s (500); sent to the next channel", what,
                     delivery.owner, delivery.channel_id)
            self._send(delivery)
        else:
            self.stats.undeliverable += 1
            self._answered(delivery)
            log.warning("%s dropped: %s answered %d%s", what, delivery.owner, code,
                        " on every channel of the set" if code == 500 else
                        " (cannot process it)")

    # --- time ------------------------------------------------------------------------

    def sweep(self) -> None:
        """Act on every deadline that ``clock`` says has passed."""
        now = self.clock()
        self._expire_backlogs(now)
        if self._next_expiry <= now:
            self._expire(now)
        for delivery in [d for d in self._pending.values()
                         if d.deadline is not None and d.deadline <= now]:
            if delivery.attempts >= self.max_attempts:
                self._settle(delivery)
                self.stats.undeliverable += 1
                self._quiet.warning(("unacknowledged", delivery.owner),
                                    "event %s (%s, sequence %d of subscription %s) of %s not "
                                    "acknowledged after %d attempts; dropped", delivery.event_id,
                                    delivery.data.type, delivery.sequence_number,
                                    delivery.subscription_id, delivery.owner, delivery.attempts)
            else:
                self._quiet.info(("resent", delivery.owner),
                                 "event %s of %s not acknowledged in %ss; sending it again",
                                 delivery.event_id, delivery.owner, self.ack_timeout)
                self._send(delivery)

    async def close(self) -> None:
        """Tell every open channel it is terminated, let the transports write it, stop."""
        self._closing = True
        if self._fanning is not None:
            self._fanning.cancel()
            self._fanning = None
        self._fanout.clear()
        channels = list(self._channels.values())
        for channel in channels:
            self.terminate(channel, SHUTTING_DOWN)
        await self.drained(channels)
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        self._channels.clear()
        self._subscriptions.clear()
        self._by_user.clear()
        self._wide.clear()
        self._rank.clear()
        self._by_identity.clear()
        self._sets.clear()
        self._pending.clear()

    async def drained(self, channels: list[Channel]) -> None:
        """Wait (at most ``drain_timeout``) until the transports of ``channels`` stopped."""
        if channels:
            waiters = [asyncio.ensure_future(c.wait_finished()) for c in channels]
            _, late = await asyncio.wait(waiters, timeout=self.drain_timeout)
            for waiter in late:
                waiter.cancel()

    # --- inside ----------------------------------------------------------------------

    def _grant(self, requested: int | None, cap: int) -> int:
        wanted = requested if requested is not None else self.default_expires
        return min(max(wanted, self.min_expires), cap)

    def _covered(self, target: Target) -> list[DirectoryUser]:
        if target.user_id is not None:
            user = self.directory.get(target.user_id)
            if user is None:
                raise XsiError(ErrorCode.NO_SUCH_USER, f"User not found: {target.user_id}")
            return [user]
        if target.enterprise is None:
            return list(self.directory.users())
        users = self.directory.in_enterprise(target.enterprise, target.group)
        if not users:
            what = (f"group {target.group} of enterprise {target.enterprise}"
                    if target.group is not None else f"enterprise {target.enterprise}")
            raise XsiError(ErrorCode.NO_SUCH_GROUP, f"No users in {what}")
        return users

    def _observe(self, user_id: str, data: EventData) -> None:
        """Keep what a new subscription's first event must report."""
        if data.type == eventdata.HOOK_STATUS:
            self._hook[user_id] = data.value("hookStatus") or eventdata.ON_HOOK
        elif data.type == eventdata.DO_NOT_DISTURB:
            settings = eventdata.dnd_settings(data)
            if settings is not None:
                self._dnd[user_id] = settings
        elif data.type in eventdata.CALL_EVENTS and data.body:
            call = data.body[0]
            call_id = call.child("callId")
            if call_id is None or call_id.text is None:
                return
            calls = self._calls.setdefault(user_id, {})
            if data.type == "CallReleasedEvent":
                calls.pop(call_id.text, None)
            else:
                calls[call_id.text] = call

    def _enqueue(self, subscription: Subscription, target_id: str, data: EventData) -> None:
        self._order += 1
        delivery = Delivery(
            event_id=str(uuid.uuid4()), order=self._order, owner=subscription.owner,
            certified=subscription.certified, set_key=subscription.set_key,
            subscription_id=subscription.id,
            sequence_number=subscription.next_sequence_number(), target_id=target_id,
            application_id=subscription.application_id, data=data)
        self._pending[delivery.event_id] = delivery
        self.stats.published += 1
        self._send(delivery)

    def _send(self, delivery: Delivery) -> None:
        channel_set = self._sets.get(delivery.set_key)
        if channel_set is None:  # the set went away with everything in it
            self._settle(delivery)
            self.stats.undeliverable += 1
            return
        channel = channel_set.pick(delivery.tried, delivery.channel_id)
        if channel is None:
            self._to_backlog(channel_set, delivery)
            return
        delivery.attempts += 1
        delivery.channel_id = channel.id
        delivery.tried.add(channel.id)
        delivery.deadline = self.clock() + self.ack_timeout
        if delivery.attempts == 1:
            self.stats.delivered += 1
        else:
            self.stats.redelivered += 1
            self._quiet.info(("sent again", delivery.owner),
                             "event %s of %s sent again on channel %s (attempt %d)",
                             delivery.event_id, delivery.owner, channel.id, delivery.attempts)
        # Not acknowledged if its channel ends for not reading: sent again at the deadline.
        self._put(channel, docs.event_document(self._envelope(delivery, channel.id),
                                               delivery.data))
        self.observer.event_sent(delivery)

    def _put(self, channel: Channel, document: str) -> None:
        """Into the channel's outbox; a full one means its client is not reading, and the
        channel ends rather than keep more."""
        if channel.send(document) or not channel.overflowed:
            return
        dropped = channel.drop_queued()
        self._quiet.warning(("not reading", channel.owner),
                            "channel %s of %s: %d KiB written and not read (emu limit "
                            "outboxKiB); %d queued document(s) dropped, channel ended",
                            channel.id, channel.owner, channel.max_outbox // 1024, dropped)
        self.terminate(channel, NOT_READING)

    def _envelope(self, delivery: Delivery, channel_id: str) -> Envelope:
        return Envelope(
            event_id=delivery.event_id, sequence_number=delivery.sequence_number,
            subscription_id=delivery.subscription_id, channel_id=channel_id,
            target_id=delivery.target_id, external_application_id=delivery.application_id,
            client_id=delivery.owner if delivery.certified else None,
            user_id=None if delivery.certified else delivery.target_id)

    def _to_backlog(self, channel_set: ChannelSet, delivery: Delivery) -> None:
        delivery.deadline = None
        channel_set.backlog.add(delivery, self.clock())
        self._backlogged[id(channel_set)] = channel_set
        while len(channel_set.backlog) > self.limits.backlog:
            dropped = channel_set.backlog.pop_longest_waiting()
            self._pending.pop(dropped.event_id, None)
            self.stats.undeliverable += 1
            self._quiet.warning(("backlog full", channel_set.owner),
                                "channel set %s of %s: no channel, backlog full (%d events, emu "
                                "limit backlog); event %s dropped", channel_set.id,
                                channel_set.owner, self.limits.backlog, dropped.event_id)

    def _expiring(self, at: float) -> None:
        if at < self._next_expiry:
            self._next_expiry = at

    def _expire(self, now: float) -> None:
        for subscription in [s for s in self._subscriptions.values() if s.expires_at <= now]:
            self._expire_subscription(subscription)
        for channel in [c for c in self._channels.values() if c.expires_at <= now]:
            self.terminate(channel, EXPIRED)
            self.stats.channels_expired += 1
        self._next_expiry = min(
            min((s.expires_at for s in self._subscriptions.values()), default=math.inf),
            min((c.expires_at for c in self._channels.values()), default=math.inf))

    def _expire_backlogs(self, now: float) -> None:
        """Events wait for a channel ``backlog_seconds`` at most: a set whose client went
        away keeps nothing for the rest of its subscriptions' lives."""
        deadline = now - self.limits.backlog_seconds
        for key, channel_set in list(self._backlogged.items()):
            if not channel_set.backlog or self._sets.get((channel_set.owner, channel_set.id)) \
                    is not channel_set:
                del self._backlogged[key]  # replayed, emptied or gone since
                continue
            expired = channel_set.backlog.expire(deadline)
            for delivery in expired:
                self._pending.pop(delivery.event_id, None)
            if expired:
                self.stats.undeliverable += len(expired)
                self._quiet.warning(("backlog expired", channel_set.owner),
                                    "channel set %s of %s: %d event(s) waited %d s for a channel "
                                    "(emu limit backlogSeconds); dropped", channel_set.id,
                                    channel_set.owner, len(expired), self.limits.backlog_seconds)

    def _replay_backlog(self, channel_set: ChannelSet) -> None:
        for delivery in channel_set.backlog.take():
            self._send(delivery)

    def _settle(self, delivery: Delivery) -> None:
        """The delivery is over: acknowledged or given up."""
        self._pending.pop(delivery.event_id, None)
        channel_set = self._sets.get(delivery.set_key)
        if channel_set is not None and delivery.deadline is None:
            channel_set.backlog.discard(delivery)

    def _expire_subscription(self, subscription: Subscription) -> None:
        self.stats.subscriptions_expired += 1
        self._end_subscription(subscription, "expired")

    def _end_subscription(self, subscription: Subscription, why: str) -> None:
        # The termination is the subscription's last event, numbered and acknowledged
        # like the others; queued before the subscription goes so that it is delivered.
        self._enqueue(subscription, subscription.target.label,
                      eventdata.subscription_terminated())
        log.info("subscription %s (%s for %s) of %s %s", subscription.id,
                 subscription.package.name, subscription.target.label, subscription.owner, why)
        self._remove_subscription(subscription)

    def _resync(self, subscription: Subscription) -> None:
        """A user subscription's (new or refreshed) first event: the user's state now.
        Group, enterprise and system subscriptions get none per user."""
        user_id = subscription.target.user_id
        if user_id is not None and subscription.package.initial is not None:
            self._enqueue(subscription, user_id,
                          subscription.package.initial(self.user_state(user_id)))

    def _drop_pending(self, subscription: Subscription) -> None:
        """Events of a subscription that is going no longer go out, sent or waiting."""
        for delivery in [d for d in self._pending.values()
                         if d.subscription_id == subscription.id]:
            self._answered(delivery)

    def _answered(self, delivery: Delivery) -> None:
        """Over: a late or repeated answer for it is then harmless."""
        self._settle(delivery)
        self._acknowledged[delivery.event_id] = delivery.owner
        while len(self._acknowledged) > 4096:
            self._acknowledged.popitem(last=False)

    def _hand_over(self, gone: Channel) -> None:
        """The unacknowledged events of a channel whose connection dropped, to the set's
        other open channels now, in publication order; each keeps its eventID and
        sequence number, and counts as one more attempt."""
        channel_set = self._sets.get(gone.set_key)
        if channel_set is None or not channel_set.open_channels():
            return
        stranded = sorted((d for d in self._pending.values()
                           if d.channel_id == gone.id and d.deadline is not None
                           and d.attempts < self.max_attempts), key=lambda d: d.order)
        for delivery in stranded:
            self._send(delivery)

    def _untried(self, delivery: Delivery) -> bool:
        channel_set = self._sets.get(delivery.set_key)
        return channel_set is not None and any(
            c.id not in delivery.tried for c in channel_set.open_channels())

    def _end_duplicate_sets(self, owner: str, channel_set_id: str, application_id: str) -> None:
        """One channel set per client and applicationId: the others' channels end."""
        for other in [s for s in self._sets.values()
                      if s.owner == owner and s.id != channel_set_id
                      and s.application_id == application_id]:
            other.application_id = None
            for channel in other.open_channels():
                self.terminate(channel, DUPLICATE_SET)

    def _index(self, subscription: Subscription) -> None:
        self._owned[subscription.owner] = self._owned.get(subscription.owner, 0) + 1
        self._created += 1
        self._rank[subscription.id] = self._created
        self._by_identity[_identity(subscription)] = subscription
        user_id = subscription.target.user_id
        if user_id is not None:
            self._by_user.setdefault(user_id, {})[subscription.id] = subscription
        else:
            self._wide[subscription.id] = subscription

    def _unindex(self, subscription: Subscription) -> None:
        if self._rank.pop(subscription.id, None) is not None:
            owned = self._owned.get(subscription.owner, 0) - 1
            if owned > 0:
                self._owned[subscription.owner] = owned
            else:
                self._owned.pop(subscription.owner, None)
        self._wide.pop(subscription.id, None)
        if self._by_identity.get(_identity(subscription)) is subscription:
            del self._by_identity[_identity(subscription)]
        user_id = subscription.target.user_id
        watching = self._by_user.get(user_id) if user_id is not None else None
        if watching is not None and user_id is not None:
            watching.pop(subscription.id, None)
            if not watching:
                del self._by_user[user_id]

    def _remove_subscription(self, subscription: Subscription) -> None:
        self._subscriptions.pop(subscription.id, None)
        self._unindex(subscription)
        channel_set = self._sets.get(subscription.set_key)
        if channel_set is not None:
            channel_set.subscriptions.pop(subscription.id, None)
            self._prune(channel_set)

    def _remove_channel(self, channel: Channel) -> None:
        self._channels.pop(channel.id, None)
        channel_set = self._sets.get(channel.set_key)
        if channel_set is not None:
            channel_set.forget_channel(channel.id)
            self._prune(channel_set)

    def _prune(self, channel_set: ChannelSet) -> None:
        """A set with neither channels nor subscriptions is gone, with what it held."""
        if not channel_set.empty:
            return
        del self._sets[(channel_set.owner, channel_set.id)]
        key = (channel_set.owner, channel_set.id)
        for delivery in [d for d in self._pending.values() if d.set_key == key]:
            del self._pending[delivery.event_id]
            self.stats.undeliverable += 1

    def _room_for_channel(self, client: Client, channel_set_id: str) -> None:
        owner, limits = client.client_id, self.limits
        if len(self._channels) >= limits.channels:
            self._refuse(client, ErrorCode.NODE_LIMIT,
                         f"The node holds {len(self._channels)} channels, its limit "
                         "(emu limit channels); try again later")
        mine = sum(1 for c in self._channels.values() if c.owner == owner)
        if mine >= limits.channels_per_client:
            self._refuse(client, ErrorCode.CLIENT_CHANNEL_LIMIT,
                         f"Client {owner} has {mine} channels open, the most one client may "
                         "(emu limit channelsPerClient); close one first")
        if (owner, channel_set_id) not in self._sets:
            sets = sum(1 for key in self._sets if key[0] == owner)
            if sets >= limits.channel_sets_per_client:
                self._refuse(client, ErrorCode.CLIENT_CHANNEL_SET_LIMIT,
                             f"Client {owner} has {sets} channel sets, the most one client may "
                             "(emu limit channelSetsPerClient); open the channel in one of them, "
                             "or delete the subscriptions of one no longer used")

    def _room_for_subscription(self, client: Client, target: Target, package_name: str,
                               application_id: str) -> None:
        """A subscription that replaces one of the client's own takes no more room."""
        if (client.client_id, target, package_name, application_id) in self._by_identity:
            return
        limits = self.limits
        if len(self._subscriptions) >= limits.subscriptions:
            self._refuse(client, ErrorCode.NODE_LIMIT,
                         f"The node holds {len(self._subscriptions)} subscriptions, its limit "
                         "(emu limit subscriptions); try again later")
        mine = self._owned.get(client.client_id, 0)
        if mine >= limits.subscriptions_per_client:
            self._refuse(client, ErrorCode.CLIENT_SUBSCRIPTION_LIMIT,
                         f"Client {client.client_id} has {mine} subscriptions, the most one "
                         "client may (emu limit subscriptionsPerClient); delete one first")

    def _refuse(self, client: Client, code: ErrorCode, summary: str) -> NoReturn:
        self._quiet.warning(("refused", code, client.client_id), "refused %s: %s",
                            client.client_id, summary)
        raise XsiError(code, summary)

    def _start_sweeper(self) -> None:
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever())

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_interval)
            try:
                self.sweep()
            except Exception:  # a bug here must not stop expiry and redelivery for good
                log.exception("event hub sweep failed")


def _identity(subscription: Subscription) -> tuple[str, Target, str, str]:
    """What makes two subscriptions the same: a second one replaces the first."""
    return (subscription.owner, subscription.target, subscription.package.name,
            subscription.application_id)


def _remaining(deadline: float, now: float) -> int:
    return max(0, math.ceil(deadline - now))

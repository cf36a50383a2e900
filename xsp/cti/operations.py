"""The Xsi-Events operations, whatever carries them.

Both interfaces of an XSP come here: the Xsi interface with HTTP requests, the CTI
interface with ``request`` messages that carry the same method, URI and body inside.
An operation is a method and a path under the Xsi-Events context, a body, and the
client the interface authorized; the answer is a status and an Xsi document (the
resource, an ``ErrorInfo``, or nothing). What only a transport can do (stream a channel
over HTTP, bind it to a CTI connection) stays with the interface: an operation that
opens a channel hands the channel back in its ``Outcome``.

Paths (under ``/com.broadsoft.xsi-events/v2.0``, or the same under
``/com.broadsoft.async/...``, which R21 clients use for channel requests):

  POST   channel                          open a channel (only where the interface binds it)
  PUT    channel/{channelId}              refresh a channel (<Channel><expires>)
  DELETE channel/{channelId}              delete a channel
  PUT    channel/{channelId}/heartbeat    heartbeat
  POST   channel/eventresponse            acknowledge an event
  GET    channelset/{channelSetId}        channel set audit
  POST   user/{userId}[/subscription]     subscribe to a user (the second form is R21's)
  POST   user/{userId}/subId/{targetSubId} ... to another subscriber on a user's behalf
  POST   serviceprovider/{id}/group/{id}  ... to a group (also enterprise/{id}/group/{id})
  POST   enterprise/{id}                  ... to an enterprise
  POST   serviceprovider/{id}             ... to a service provider
  POST   system                           ... to every user of the system
  PUT    subscription/{subscriptionId}    refresh a subscription
  DELETE subscription/{subscriptionId}    delete it
  GET    subscription/{subscriptionId}    read it
  GET    subscription?subscriberId=&targetId=&event=   list the client's subscriptions
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import unquote

from xsp.cti import documents as docs
from xsp.cti.channels import Channel, Subscription, Target
from xsp.cti.errors import ErrorCode, XsiError
from xsp.cti.hub import EventHub
from xsp.cti.identity import Client
from xsp.cti.paths import ASYNC_ROOT, ROOT

_ROOTS = (ASYNC_ROOT, ROOT)


@dataclass(frozen=True)
class Outcome:
    status: int
    document: str = ""                  # the Xsi document answered, or "" for none
    channel: Channel | None = None      # a channel this operation opened
    allow: tuple[str, ...] = ()         # the methods a 405 allows

    @property
    def reason(self) -> str:
        return reason_phrase(self.status)


_REASONS = {200: "OK", 201: "Created", 400: "Bad Request", 401: "Unauthorized",
            403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
            413: "Request Entity Too Large", 426: "Upgrade Required", 500: "Internal Server Error",
            503: "Service Unavailable"}


def reason_phrase(status: int) -> str:
    """The HTTP reason phrase a status goes with (a CTI response carries one too)."""
    return _REASONS.get(status, "Error")


def failure(error: XsiError, allow: tuple[str, ...] = ()) -> Outcome:
    return Outcome(error.status, docs.error_info_document(error.summary, error.code),
                   allow=allow)


@dataclass(frozen=True)
class _Route:
    method: str
    pattern: re.Pattern[str]
    operation: str                      # the CTI interface's name for it
    handler: str                        # the method of Operations that runs it


def _route(method: str, path: str, operation: str, handler: str) -> _Route:
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path)
    return _Route(method, re.compile(f"{regex}$", re.IGNORECASE if "serviceprovider" in path
                                     else 0), operation, handler)


ROUTES = (
    _route("POST", "channel/eventresponse", "EventResponse", "event_response"),
    _route("PUT", "channel/{channelId}/heartbeat", "ChannelHeartBeat", "heartbeat"),
    _route("POST", "channel", "AddChannelRequest", "add_channel"),
    _route("PUT", "channel/{channelId}", "UpdateChannelRequest", "update_channel"),
    _route("DELETE", "channel/{channelId}", "DeleteChannelRequest", "delete_channel"),
    _route("GET", "channelset/{channelSetId}", "GetChannelSetRequest", "channel_set"),
    _route("POST", "user/{userId}", "AddUserSubscriptionRequest", "subscribe_user"),
    _route("POST", "user/{userId}/subscription", "AddUserSubscriptionRequest", "subscribe_user"),
    _route("POST", "user/{userId}/subId/{targetSubId}", "AddUserSubIdSubscriptionRequest",
           "subscribe_sub_id"),
    _route("POST", "serviceprovider/{serviceProviderId}/group/{groupId}",
           "AddGroupSubscriptionRequest", "subscribe_group"),
    _route("POST", "enterprise/{serviceProviderId}/group/{groupId}",
           "AddGroupSubscriptionRequest", "subscribe_group"),
    _route("POST", "enterprise/{serviceProviderId}", "AddEnterpriseSubscriptionRequest",
           "subscribe_enterprise"),
    _route("POST", "serviceprovider/{serviceProviderId}",
           "AddServiceProviderSubscriptionRequest", "subscribe_enterprise"),
    _route("POST", "system", "AddSystemSubscriptionRequest", "subscribe_system"),
    _route("PUT", "subscription/{subscriptionId}", "UpdateSubscriptionRequest",
           "update_subscription"),
    _route("DELETE", "subscription/{subscriptionId}", "DeleteSubscriptionRequest",
           "delete_subscription"),
    _route("GET", "subscription/{subscriptionId}", "GetSingleSubscriptionRequest",
           "get_subscription"),
    _route("GET", "subscription", "GetSubscriptionsRequest", "list_subscriptions"),
)

# Each CTI operation's method and path: what a request without a uri or method means.
TEMPLATES: dict[str, tuple[str, str]] = {
    "AddChannelRequest": ("POST", "channel"),
    "UpdateChannelRequest": ("PUT", "channel/{channelId}"),
    "DeleteChannelRequest": ("DELETE", "channel/{channelId}"),
    "GetChannelSetRequest": ("GET", "channelset/{channelSetId}"),
    "AddUserSubscriptionRequest": ("POST", "user/{userId}"),
    "AddUserSubIdSubscriptionRequest": ("POST", "user/{userId}/subId/{targetSubId}"),
    "AddGroupSubscriptionRequest": ("POST", "serviceprovider/{serviceProviderId}/group/{groupId}"),
    "AddEnterpriseSubscriptionRequest": ("POST", "enterprise/{enterpriseId}"),
    "AddServiceProviderSubscriptionRequest": ("POST", "serviceProvider/{serviceProviderId}"),
    "AddSystemSubscriptionRequest": ("POST", "system"),
    "UpdateSubscriptionRequest": ("PUT", "subscription/{subscriptionId}"),
    "DeleteSubscriptionRequest": ("DELETE", "subscription/{subscriptionId}"),
    "GetSingleSubscriptionRequest": ("GET", "subscription/{subscriptionId}"),
    "GetSubscriptionsRequest": ("GET", "subscription"),
}


def resolve(method: str, path: str) -> tuple[_Route, dict[str, str]]:
    """The route of ``method`` on ``path`` and its path variables, or ``XsiError``
    (404 no such resource, 405 with the allowed methods in ``allow``)."""
    relative = _relative(path)
    allowed: list[str] = []
    if relative is not None:
        for route in ROUTES:
            match = route.pattern.match(relative)
            if match is None:
                continue
            if route.method == method.upper():
                return route, {k: unquote(v) for k, v in match.groupdict().items()}
            allowed.append(route.method)
    if allowed:
        methods = tuple(sorted(set(allowed)))
        raise MethodNotAllowed(f"Method {method} is not allowed on {path}; allowed: "
                               + ", ".join(methods), methods)
    raise XsiError(ErrorCode.NO_SUCH_PATH, f"No such resource: {path}")


NO_OPERATION = ""


def operation_of(method: str, path: str) -> str:
    """The CTI interface's name for ``method`` on ``path`` (a client builds its request
    with it), or ``NO_OPERATION``."""
    try:
        route, _ = resolve(method, path.partition("?")[0])
    except XsiError:
        return NO_OPERATION
    return route.operation


class MethodNotAllowed(XsiError):
    def __init__(self, summary: str, allow: tuple[str, ...]) -> None:
        super().__init__(ErrorCode.METHOD_NOT_ALLOWED, summary)
        self.allow = allow


def _relative(path: str) -> str | None:
    for root in _ROOTS:
        if path == root:
            return ""
        if path.startswith(root + "/"):
            return path[len(root) + 1:].rstrip("/")
    return None


class Operations:
    """The operations of one hub; ``opens_channels`` false where the interface opens
    channels its own way (the Xsi interface streams them), so ``POST channel`` is not
    one of its operations."""

    def __init__(self, hub: EventHub, *, transport: str, opens_channels: bool) -> None:
        self.hub = hub
        self.transport = transport
        self.opens_channels = opens_channels

    def handle(self, client: Client, method: str, path: str, body: bytes | str = b"",
               query: Mapping[str, str] | None = None) -> Outcome:
        """The answer to one operation; a refusal is an Outcome with its ErrorInfo."""
        try:
            route, variables = resolve(method, path)
            if route.handler == "add_channel" and not self.opens_channels:
                raise XsiError(ErrorCode.NO_SUCH_PATH, f"No such resource: {path}")
            handler: Callable[..., Outcome] = getattr(self, route.handler)
            return handler(client, variables, body, query or {})
        except MethodNotAllowed as exc:
            return failure(exc, exc.allow)
        except XsiError as exc:
            return failure(exc)

    # --- channels --------------------------------------------------------------------

    def add_channel(self, client: Client, _: dict[str, str], body: bytes | str,
                    __: Mapping[str, str]) -> Outcome:
        request = docs.parse_channel_request(body)
        channel = self.hub.open_channel(client, request, transport=self.transport,
                                        announce=False)
        return Outcome(200, docs.channel_document(channel.id, channel.granted), channel=channel)

    def update_channel(self, client: Client, v: dict[str, str], body: bytes | str,
                       _: Mapping[str, str]) -> Outcome:
        expires = docs.parse_expires(body, "Channel")
        granted = self.hub.refresh_channel(client, v["channelId"], expires)
        return Outcome(200, docs.channel_document(v["channelId"], granted))

    def delete_channel(self, client: Client, v: dict[str, str], *_: object) -> Outcome:
        self.hub.delete_channel(client, v["channelId"])
        return Outcome(200)

    def heartbeat(self, client: Client, v: dict[str, str], *_: object) -> Outcome:
        self.hub.heartbeat(client, v["channelId"])
        return Outcome(200)

    def event_response(self, client: Client, _: dict[str, str], body: bytes | str,
                       __: Mapping[str, str]) -> Outcome:
        self.hub.acknowledge(client, docs.parse_event_response(body))
        return Outcome(200)

    def channel_set(self, client: Client, v: dict[str, str], *_: object) -> Outcome:
        return Outcome(200, self.hub.audit(client, v["channelSetId"]))

    # --- subscriptions ---------------------------------------------------------------

    def subscribe_user(self, client: Client, v: dict[str, str], body: bytes | str,
                       _: Mapping[str, str]) -> Outcome:
        return self._subscribe(client, Target(user_id=v["userId"]), body)

    def subscribe_sub_id(self, client: Client, v: dict[str, str], body: bytes | str,
                         _: Mapping[str, str]) -> Outcome:
        # The subscription is made on the user's behalf and watches the target
        # subscriber; both must exist.
        if self.hub.directory.get(v["userId"]) is None:
            raise XsiError(ErrorCode.NO_SUCH_USER, f"User not found: {v['userId']}")
        return self._subscribe(client, Target(user_id=v["targetSubId"]), body)

    def subscribe_group(self, client: Client, v: dict[str, str], body: bytes | str,
                        _: Mapping[str, str]) -> Outcome:
        return self._subscribe(client, Target(enterprise=v["serviceProviderId"],
                                              group=v["groupId"]), body)

    def subscribe_enterprise(self, client: Client, v: dict[str, str], body: bytes | str,
                             _: Mapping[str, str]) -> Outcome:
        return self._subscribe(client, Target(enterprise=v["serviceProviderId"]), body)

    def subscribe_system(self, client: Client, _: dict[str, str], body: bytes | str,
                         __: Mapping[str, str]) -> Outcome:
        return self._subscribe(client, Target(), body)

    def _subscribe(self, client: Client, target: Target, body: bytes | str) -> Outcome:
        request = docs.parse_subscription_request(body)
        subscription, granted = self.hub.subscribe(client, target, request)
        return Outcome(200, docs.subscription_document(subscription.id, granted))

    def update_subscription(self, client: Client, v: dict[str, str], body: bytes | str,
                            _: Mapping[str, str]) -> Outcome:
        expires = docs.parse_expires(body, "Subscription")
        granted = self.hub.refresh_subscription(client, v["subscriptionId"], expires)
        return Outcome(200, docs.subscription_document(v["subscriptionId"], granted))

    def delete_subscription(self, client: Client, v: dict[str, str], *_: object) -> Outcome:
        self.hub.unsubscribe(client, v["subscriptionId"])
        return Outcome(200)

    def get_subscription(self, client: Client, v: dict[str, str], *_: object) -> Outcome:
        subscription = self.hub.subscription(client, v["subscriptionId"])
        return Outcome(200, docs.document(self._describe(subscription)))

    def list_subscriptions(self, client: Client, _: dict[str, str], __: object,
                           query: Mapping[str, str]) -> Outcome:
        wanted = [s for s in self.hub.subscriptions_of(client)
                  if _matches(s, query)]
        return Outcome(200, docs.document(docs.el("SubscriptionList",
                                                  *(self._describe(s) for s in wanted))))

    def _describe(self, subscription: Subscription) -> docs.Node:
        """A subscription as GET answers it (element names are the emulator's)."""
        return docs.el("Subscription", docs.leaf("subscriptionId", subscription.id),
                       docs.leaf("targetId", subscription.target.label),
                       docs.leaf("event", subscription.package.name),
                       docs.leaf("expires", self.hub.remaining(subscription.expires_at)),
                       docs.leaf("channelSetId", subscription.set_key[1]),
                       docs.leaf("applicationId", subscription.application_id))


def _matches(subscription: Subscription, query: Mapping[str, str]) -> bool:
    target = query.get("targetId")
    event = query.get("event")
    subscriber = query.get("subscriberId")
    return ((target is None or subscription.target.label == target)
            and (event is None or subscription.package.name.lower() == event.lower())
            and (subscriber is None or subscription.owner == subscriber
                 or subscription.target.user_id == subscriber))


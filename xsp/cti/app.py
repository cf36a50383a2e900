"""The Xsi-Events v2.0 application served by one CTI listener.

Routes (all answers ``text/xml``; every refusal an ``ErrorInfo`` with its HTTP status):

  POST   /com.broadsoft.async/com.broadsoft.xsi-events/v2.0/channel   open a streaming channel
  GET    (same, with Upgrade: websocket)                                the channel over WebSocket
  PUT    /com.broadsoft.xsi-events/v2.0/channel/{channelId}/heartbeat  heartbeat
  PUT    /com.broadsoft.xsi-events/v2.0/channel/{channelId}            refresh (<Channel><expires>)
  DELETE /com.broadsoft.xsi-events/v2.0/channel/{channelId}            delete
  POST   /com.broadsoft.xsi-events/v2.0/channel/eventresponse          acknowledge an event
  POST   /com.broadsoft.xsi-events/v2.0/user/{userId}                  subscribe to a user
  POST   /com.broadsoft.xsi-events/v2.0/enterprise/{id}[/group/{id}]   ... an enterprise or group
  POST   /com.broadsoft.xsi-events/v2.0/serviceprovider/{id}[/group/{id}] (same, older name)
  PUT    /com.broadsoft.xsi-events/v2.0/subscription/{subscriptionId}  refresh
  DELETE /com.broadsoft.xsi-events/v2.0/subscription/{subscriptionId}  delete
  GET    /com.broadsoft.xsi-events/v2.0/channelset/{channelSetId}      channel set audit

Every request is authorized first (``auth.Authorizer``), whatever its path, so an
unknown client learns nothing about the API; each refusal is logged as one line.
"""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from xsp.cti import documents as docs
from xsp.cti.auth import Authorizer, Refusal
from xsp.cti.channels import Channel, Target
from xsp.cti.errors import ErrorCode, XsiError
from xsp.cti.hub import INTERFACE_STOPPED, EventHub
from xsp.cti.identity import Client
from xsp.cti.paths import ASYNC_ROOT, ROOT
from xsp.cti.streaming import CONTENT_TYPE, stream_http, websocket_channel

if TYPE_CHECKING:
    from aiohttp.typedefs import Middleware

log = logging.getLogger("xsp.cti")

MAX_BODY = 64 * 1024

HUB = web.AppKey("xsp.cti.hub", EventHub)
AUTHORIZER = web.AppKey("xsp.cti.authorizer", Authorizer)
# Typed request storage where aiohttp has it (3.13+); pyproject allows older versions.
_CLIENT: Any = (web.RequestKey("xsp.cti.client", Client) if hasattr(web, "RequestKey")
                else "xsp.cti.client")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def create_app(hub: EventHub, authorizer: Authorizer, *, label: str) -> web.Application:
    """``label`` names the listener in log lines, e.g. ``"xsp1 10.0.0.5:8012"``."""
    app = web.Application(client_max_size=MAX_BODY, middlewares=[_guard(authorizer, label)])
    app[HUB] = hub
    app[AUTHORIZER] = authorizer
    api = _Api(hub)
    # aiohttp waits for running handlers when the runner is cleaned up, and a channel's
    # handler runs as long as the channel: end this listener's channels first.
    app.on_shutdown.append(api.shutdown)
    add = app.router.add_route
    add("POST", f"{ASYNC_ROOT}/channel", api.open_channel)
    add("GET", f"{ASYNC_ROOT}/channel", api.open_websocket)
    add("POST", f"{ROOT}/channel/eventresponse", api.event_response)
    add("PUT", f"{ROOT}/channel/{{channel_id}}/heartbeat", api.heartbeat)
    add("PUT", f"{ROOT}/channel/{{channel_id}}", api.refresh_channel)
    add("DELETE", f"{ROOT}/channel/{{channel_id}}", api.delete_channel)
    add("POST", f"{ROOT}/user/{{user_id}}", api.subscribe_user)
    for word in ("enterprise", "serviceprovider"):
        add("POST", f"{ROOT}/{word}/{{enterprise}}", api.subscribe_enterprise)
        add("POST", f"{ROOT}/{word}/{{enterprise}}/group/{{group}}", api.subscribe_group)
    add("PUT", f"{ROOT}/subscription/{{subscription_id}}", api.refresh_subscription)
    add("DELETE", f"{ROOT}/subscription/{{subscription_id}}", api.unsubscribe)
    add("GET", f"{ROOT}/channelset/{{channel_set_id}}", api.audit)
    return app


def _guard(authorizer: Authorizer, label: str) -> Middleware:
    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.transport is None:
            # The client closed right after its request, before it was handled: its
            # certificate went with the connection, so the request cannot be
            # authorized, and there is no one to answer. Not a refusal.
            log.info("%s: %s closed the connection before its request (%s %s) was "
                     "handled; not run", label, _peer(request), request.method, request.path)
            return web.Response(status=499)
        try:
            request[_CLIENT] = authorizer.authorize(request.transport)
        except Refusal as refusal:
            line = (f"{label}: refused {refusal.who} from {_peer(request)}: {refusal.summary} "
                    f"(HTTP {refusal.status})")
            log.warning("%s", line)
            request.app[HUB].observer.request_refused(label, _peer(request), refusal.who,
                                                      refusal.summary, refusal.status, line)
            return error_response(refusal)
        try:
            return await handler(request)
        except XsiError as exc:
            return error_response(exc)
        except web.HTTPException as exc:
            return _http_error(request, exc)
    return guard


def error_response(error: XsiError, headers: dict[str, str] | None = None) -> web.Response:
    extra = dict(headers or {})
    if error.code is ErrorCode.UPGRADE_REQUIRED:
        extra.update({"Upgrade": "websocket", "Connection": "Upgrade"})
    return web.Response(status=error.status, headers=extra, content_type="text/xml",
                        charset="UTF-8", text=docs.error_info_document(error.summary, error.code))


def _http_error(request: web.Request, exc: web.HTTPException) -> web.Response:
    """aiohttp's own refusals (no route, wrong method, body too large) as ErrorInfo."""
    if isinstance(exc, web.HTTPMethodNotAllowed):
        allowed = sorted(exc.allowed_methods)
        return error_response(XsiError(ErrorCode.METHOD_NOT_ALLOWED,
                                       f"Method {request.method} is not allowed on "
                                       f"{request.path}; allowed: {', '.join(allowed)}"),
                              {"Allow": ", ".join(allowed)})
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return error_response(XsiError(ErrorCode.BODY_TOO_LARGE,
                                       f"Request body larger than {MAX_BODY} bytes"))
    if isinstance(exc, web.HTTPNotFound):
        return error_response(XsiError(ErrorCode.NO_SUCH_PATH, f"No such resource: {request.path}"))
    raise exc


def _peer(request: web.Request) -> str:
    # aiohttp keeps the address it saw when the request came (request.remote) after the
    # connection is gone; the port comes only from a live transport.
    peer = request.transport.get_extra_info("peername") if request.transport else None
    if not peer:
        return request.remote or "unknown peer"
    host, port = peer[0], peer[1]
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


def xml_response(text: str) -> web.Response:
    return web.Response(status=200, body=text.encode(), headers={"Content-Type": CONTENT_TYPE})


def _ok() -> web.Response:
    return web.Response(status=200)


class _Api:
    def __init__(self, hub: EventHub) -> None:
        self.hub = hub
        self.channels: set[Channel] = set()  # open on this listener (the hub has them all)

    async def shutdown(self, app: web.Application) -> None:
        channels = list(self.channels)
        for channel in channels:
            self.hub.terminate(channel, INTERFACE_STOPPED)
        await self.hub.drained(channels)

    @staticmethod
    def client(request: web.Request) -> Client:
        return request[_CLIENT]

    async def open_channel(self, request: web.Request) -> web.StreamResponse:
        channel_request = docs.parse_channel_request(await request.read())
        channel = self.hub.open_channel(self.client(request), channel_request, transport="http")
        self.channels.add(channel)
        try:
            return await stream_http(request, self.hub, channel)
        finally:
            self.channels.discard(channel)

    async def open_websocket(self, request: web.Request) -> web.StreamResponse:
        return await websocket_channel(request, self.hub, self.client(request), self.channels)

    async def heartbeat(self, request: web.Request) -> web.Response:
        self.hub.heartbeat(self.client(request), request.match_info["channel_id"])
        return _ok()

    async def refresh_channel(self, request: web.Request) -> web.Response:
        channel_id = request.match_info["channel_id"]
        expires = docs.parse_expires(await request.read(), "Channel")
        granted = self.hub.refresh_channel(self.client(request), channel_id, expires)
        return xml_response(docs.channel_document(channel_id, granted))

    async def delete_channel(self, request: web.Request) -> web.Response:
        self.hub.delete_channel(self.client(request), request.match_info["channel_id"])
        return _ok()

    async def event_response(self, request: web.Request) -> web.Response:
        self.hub.acknowledge(self.client(request), docs.parse_event_response(await request.read()))
        return _ok()

    async def subscribe_user(self, request: web.Request) -> web.Response:
        return await self._subscribe(request, Target(user_id=request.match_info["user_id"]))

    async def subscribe_enterprise(self, request: web.Request) -> web.Response:
        return await self._subscribe(request, Target(enterprise=request.match_info["enterprise"]))

    async def subscribe_group(self, request: web.Request) -> web.Response:
        return await self._subscribe(request, Target(enterprise=request.match_info["enterprise"],
                                                     group=request.match_info["group"]))

    async def _subscribe(self, request: web.Request, target: Target) -> web.Response:
        subscription_request = docs.parse_subscription_request(await request.read())
        subscription, granted = self.hub.subscribe(self.client(request), target,
                                                   subscription_request)
        return xml_response(docs.subscription_document(subscription.id, granted))

    async def refresh_subscription(self, request: web.Request) -> web.Response:
        subscription_id = request.match_info["subscription_id"]
        expires = docs.parse_expires(await request.read(), "Subscription")
        granted = self.hub.refresh_subscription(self.client(request), subscription_id, expires)
        return xml_response(docs.subscription_document(subscription_id, granted))

    async def unsubscribe(self, request: web.Request) -> web.Response:
        self.hub.unsubscribe(self.client(request), request.match_info["subscription_id"])
        return _ok()

    async def audit(self, request: web.Request) -> web.Response:
        return xml_response(self.hub.audit(self.client(request),
                                           request.match_info["channel_set_id"]))

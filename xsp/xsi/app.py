"""The Xsi interface of an XSP: Xsi-Events v2.0 over HTTP, on its own listener.

The operations themselves (channels, subscriptions, acknowledgements, audits) are
``xsp.cti.operations``, shared with the CTI interface; this module is what HTTP adds:

  POST   /com.broadsoft.async/com.broadsoft.xsi-events/v2.0/channel   open a streaming channel
  GET    (same, with Upgrade: websocket)   the channel over WebSocket (the emulator's own)
  any    /com.broadsoft.xsi-events/v2.0/...   (and the same under com.broadsoft.async)
         an operation of ``xsp.cti.operations``

Every request is authorized first (``auth.Authorizer``), whatever its path, so an
unknown client learns nothing about the API; each refusal is logged as one line.
Answers are ``text/xml``; every refusal an ``ErrorInfo`` with its HTTP status.
"""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from xsp.cti import documents as docs
from xsp.cti.auth import Authorizer, Refusal
from xsp.cti.channels import Channel
from xsp.cti.errors import ErrorCode, XsiError
from xsp.cti.hub import INTERFACE_STOPPED, EventHub
from xsp.cti.identity import Client
from xsp.cti.operations import Operations, Outcome
from xsp.cti.paths import ASYNC_ROOT, ROOT
from xsp.xsi.streaming import CONTENT_TYPE, stream_http, websocket_channel

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
    """``label`` names the listener in log lines, e.g. ``"xsp1 10.0.0.5:443"``."""
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
    add("*", f"{ASYNC_ROOT}/{{tail:.*}}", api.operation)
    add("*", f"{ROOT}/{{tail:.*}}", api.operation)
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


def answer(outcome: Outcome) -> web.Response:
    headers = {"Allow": ", ".join(outcome.allow)} if outcome.allow else {}
    if not outcome.document:
        return web.Response(status=outcome.status, headers=headers)
    headers["Content-Type"] = CONTENT_TYPE
    return web.Response(status=outcome.status, body=outcome.document.encode(), headers=headers)


class _Api:
    def __init__(self, hub: EventHub) -> None:
        self.hub = hub
        self.operations = Operations(hub, transport="http", opens_channels=False)
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

    async def operation(self, request: web.Request) -> web.Response:
        # The raw path: the operations layer decodes each path variable once.
        body = await request.read()
        return answer(self.operations.handle(self.client(request), request.method,
                                             request.rel_url.raw_path, body, request.query))

"""The live page's web server: one HTML page, its CSS and script, and the ``/feed``
WebSocket, on its own aiohttp runner in the node's event loop.

Read-only by design: nothing it serves changes the node. On a loopback address it
needs no credentials, like the node's control socket it is the local user's; on any
other address every request for the page or the feed must carry the access token
printed at start (``?token=``), compared in constant time. The static files hold no
facts about the node and are served to anyone.
"""
from __future__ import annotations

import asyncio
import json
import logging
import secrets
import socket
from importlib import resources

from aiohttp import WSCloseCode, web

from xsp.live.address import DEFAULT_PORT, bind, needed_token, url_for
from xsp.live.feed import LiveFeed, Subscriber

log = logging.getLogger("xsp.live")

MAX_FOLLOWERS = 32  # WebSocket clients at once; more are refused with 503
STATIC = {"live.css": "text/css", "live.js": "text/javascript"}
_HEADERS = {
    # Nothing from elsewhere, nothing inline: the page works offline and a CN or reason
    # from a client can never become script.
    "Content-Security-Policy": "default-src 'self'; connect-src 'self'; img-src 'self' data:; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the token is in the URL: never pass it on
    "Cache-Control": "no-store",
}


class LivePage:
    def __init__(self, feed: LiveFeed, sock: socket.socket, *, token: str | None = None) -> None:
        """``sock`` from ``bind``. A non-loopback address always gets a token."""
        self.feed = feed
        self._sock = sock
        self.host, self.port = sock.getsockname()[:2]
        self.token = needed_token(self.host, token)
        self._runner: web.AppRunner | None = None
        self._sockets: set[web.WebSocketResponse] = set()

    @classmethod
    def open(cls, feed: LiveFeed, host: str = "127.0.0.1", port: int = DEFAULT_PORT, *,
             fallback: bool = False) -> "LivePage":
        return cls(feed, bind(host, port, fallback=fallback))

    @property
    def url(self) -> str:
        return self.url_for(self.host, self.port, self.token)

    url_for = staticmethod(url_for)

    def app(self) -> web.Application:
        app = web.Application(client_max_size=1024)
        app.router.add_get("/", self._index)
        app.router.add_get("/feed", self._feed)
        app.router.add_get("/snapshot.json", self._snapshot)
        app.router.add_get("/static/{name}", self._static)
        app.on_shutdown.append(self._close_sockets)
        return app

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app(), handle_signals=False, access_log=None,
                                     shutdown_timeout=1.0)
        await self._runner.setup()
        await web.SockSite(self._runner, self._sock).start()
        self.feed.start()
        log.debug("live page on %s:%s", self.host, self.port)

    async def stop(self) -> None:
        await self.feed.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self._sock.close()

    # --- handlers ---------------------------------------------------------------------

    def _allowed(self, request: web.Request) -> bool:
        if self.token is None:
            return True
        given = request.query.get("token", "")
        return secrets.compare_digest(given.encode(), self.token.encode())

    def _refuse(self) -> web.Response:
        return web.Response(status=403, headers=_HEADERS, text=(
            "live page: this address needs the access token printed when the node started "
            "(open the URL it printed, with ?token=...)\n"))

    async def _index(self, request: web.Request) -> web.Response:
        if not self._allowed(request):
            return self._refuse()
        return web.Response(body=_asset("index.html"), content_type="text/html",
                            charset="utf-8", headers=_HEADERS)

    async def _static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in STATIC:
            raise web.HTTPNotFound(text="live page: no such file\n")
        return web.Response(body=_asset(name), content_type=STATIC[name], charset="utf-8",
                            headers=_HEADERS)

    async def _snapshot(self, request: web.Request) -> web.Response:
        if not self._allowed(request):
            return self._refuse()
        if not self.feed.followers:
            self.feed.refresh()  # nobody follows, so nothing kept the views current
        return web.json_response(self.feed.snapshot(), headers=_HEADERS)

    async def _feed(self, request: web.Request) -> web.StreamResponse:
        if not self._allowed(request):
            return self._refuse()
        if self.feed.followers >= MAX_FOLLOWERS:
            return web.Response(status=503, headers=_HEADERS,
                                text=f"live page: {MAX_FOLLOWERS} followers already; try later\n")
        ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=1024)
        await ws.prepare(request)
        self._sockets.add(ws)
        subscriber = self.feed.subscribe()
        writer = asyncio.create_task(_write(ws, subscriber))
        try:
            async for _ in ws:
                pass  # the feed is one-way; what a follower sends is ignored
        finally:
            self.feed.unsubscribe(subscriber)
            writer.cancel()
            self._sockets.discard(ws)
        return ws

    async def _close_sockets(self, app: web.Application) -> None:
        for ws in list(self._sockets):
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"node stopping")


async def _write(ws: web.WebSocketResponse, subscriber: Subscriber) -> None:
    try:
        while True:
            message = await subscriber.queue.get()
            if message is None:
                await ws.close(code=WSCloseCode.GOING_AWAY,
                               message=b"too slow" if subscriber.overflowed else b"node stopping")
                return
            await ws.send_str(json.dumps(message, separators=(",", ":")))
    except (ConnectionError, RuntimeError):
        return  # the follower went away; the reader ends the handler


def _asset(name: str) -> bytes:
    return resources.files("xsp.live").joinpath("static", name).read_bytes()

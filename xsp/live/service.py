"""The live page of one running node: opened with the node, closed before it, and
the command-line options that choose its address or turn it off.

The socket is bound before the node starts (``LiveService.open``), so the address can
be printed at once, a taken port is one clear line before anything runs, and a shell
can print it before its first prompt while its node starts in the background.
"""
from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from xsp.live.address import DEFAULT_PORT, LivePageError, bind, needed_token, url_for

if TYPE_CHECKING:
    import socket

    from xsp.live.page import LivePage
    from xsp.node.host import NodeHost


class LiveService:
    def __init__(self, sock: "socket.socket", *, token: str | None = None) -> None:
        self._sock = sock
        self.host, self.port = sock.getsockname()[:2]
        self._token = needed_token(self.host, token)
        self.page: "LivePage | None" = None
        self.url = url_for(self.host, self.port, self._token)

    @classmethod
    def open(cls, host: str = "127.0.0.1", port: int = DEFAULT_PORT, *,
             fallback: bool = False) -> "LiveService":
        """Bind now (``LivePageError`` when it cannot); serve once the node runs."""
        return cls(bind(host, port, fallback=fallback))

    async def start(self, node: "NodeHost") -> None:
        # The web server is imported here, in the node's start, not before a first prompt.
        from xsp.live.feed import LiveFeed
        from xsp.live.page import LivePage
        from xsp.live.views import NodeHostSources

        feed = LiveFeed(NodeHostSources(node))
        node.watch(feed)
        self.page = LivePage(feed, self._sock, token=self._token)
        await self.page.start()

    async def stop(self, node: "NodeHost | None" = None) -> None:
        if node is not None:
            node.watch(None)
        if self.page is not None:
            await self.page.stop()
            self.page = None
        self.close()

    def close(self) -> None:
        """Give the address back (a page never started, or stopped)."""
        self._sock.close()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("live page")
    group.add_argument("--live-port", type=int, default=None, metavar="N",
                       help=f"port of the read-only live page (default {DEFAULT_PORT}, or a free "
                            "one when that is taken; 0 for any free port)")
    group.add_argument("--live-host", default="127.0.0.1", metavar="ADDR",
                       help="address of the live page (default 127.0.0.1); on any address that is "
                            "not loopback the page needs the access token printed at start")
    group.add_argument("--no-live", action="store_true", help="do not serve the live page")


def from_arguments(args: argparse.Namespace) -> LiveService | None:
    """The page the options ask for, bound; None with ``--no-live``."""
    if args.no_live:
        return None
    if args.live_port is not None and not 0 <= args.live_port <= 65535:
        raise LivePageError(f"live page: port {args.live_port} is out of range 0-65535")
    explicit = args.live_port is not None
    return LiveService.open(args.live_host, args.live_port if explicit else DEFAULT_PORT,
                            fallback=not explicit)

"""The live page of a running deployment: listeners and their policy, connections
admitted and refused, channels, subscriptions and events, updating over a WebSocket.

- ``observer``: the interface the node, its listeners and its hub report into;
- ``model`` and ``views``: what the page shows, read from the node;
- ``feed``: the observer that keeps bounded history and sends JSON messages;
- ``page``: the aiohttp server of the page, its static files and ``/feed``.
"""
from xsp.live.feed import EVENTS, TIMELINE, LiveFeed
from xsp.live.observer import NULL_OBSERVER, Admitted, NullObserver, Observer
from xsp.live.page import DEFAULT_PORT, LivePage, LivePageError, bind, is_loopback

__all__ = ["Admitted", "DEFAULT_PORT", "EVENTS", "LiveFeed", "LivePage", "LivePageError",
           "NULL_OBSERVER", "NullObserver", "Observer", "TIMELINE", "bind", "is_loopback"]

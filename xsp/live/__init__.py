"""The live page of a running deployment: listeners and their policy, connections
admitted and refused, channels, subscriptions and events, updating over a WebSocket.

- ``observer``: the interface the node, its listeners and its hub report into;
- ``model`` and ``views``: what the page shows, read from the node;
- ``feed``: the observer that keeps bounded history and sends JSON messages;
- ``page``: the aiohttp server of the page, its static files and ``/feed``;
- ``address``: where the page listens, bound before the node starts;
- ``service``: the page of one running node and its command-line options.

Import the modules themselves: the package imports nothing, so a shell that only binds
the page's address before its first prompt does not load the web server.
"""

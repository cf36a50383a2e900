"""Where the Xsi-Events interface answers on the wire, for the server and the client.

The async root carries the streaming channels (HTTP and WebSocket), the other root the
requests: subscriptions, channel updates and event responses.
"""
from __future__ import annotations

ASYNC_ROOT = "/com.broadsoft.async/com.broadsoft.xsi-events/v2.0"
ROOT = "/com.broadsoft.xsi-events/v2.0"

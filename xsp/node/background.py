"""Running a node beside a synchronous caller: the shell, tests, the pytest plugin.

The node's ``NodeService`` runs on a ``LoopThread``; callers submit coroutines with
``call``. The service holds the state's node lock, so no second node starts on it.
"""
from __future__ import annotations

from typing import Any, Coroutine, TypeVar

from xsp.config.store import Store
from xsp.live.service import LiveService
from xsp.node.host import NodeHost
from xsp.node.loop import LoopThread
from xsp.node.service import NodeService

T = TypeVar("T")


class NodeThread:
    def __init__(self, store: Store, *, ack_timeout: float = 5.0,
                 handshake_timeout: float = 10.0, live: LiveService | None = None) -> None:
        self.store = store
        self.service = NodeService(store, ack_timeout=ack_timeout,
                                   handshake_timeout=handshake_timeout, live=live)
        self._loop: LoopThread | None = None

    @property
    def host(self) -> NodeHost:
        return self.service.host

    @host.setter
    def host(self, host: NodeHost) -> None:
        """A host built otherwise (before ``start``), e.g. with a test's timeouts."""
        self.service.host = host

    def start(self) -> "NodeThread":
        self.service.acquire()
        self._loop = LoopThread("xsp-node", timeout=60)
        try:
            self._loop.run(self.service.start())
        except BaseException:
            self._loop.close()
            self._loop = None
            raise
        return self

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None = 60) -> T:
        if self._loop is None:
            coro.close()
            raise RuntimeError("the node is not running")
        return self._loop.run(coro, timeout)

    def stop(self) -> None:
        loop, self._loop = self._loop, None
        if loop is None:
            self.service.release()
            return
        try:
            loop.run(self.service.stop(), timeout=30)
        finally:
            loop.close()
            self.service.release()

    def __enter__(self) -> "NodeThread":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

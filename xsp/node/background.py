"""Running a node beside a synchronous caller: the shell, tests, the pytest plugin.

The node's asyncio loop runs in a daemon thread; callers submit coroutines with
``call``. The thread holds the state's node lock, so no second node starts on it.
"""
from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future
from typing import Any, Coroutine, TypeVar

from xsp.config.store import Store
from xsp.node.control import NodeLock, close_control, serve_control
from xsp.node.host import NodeHost
from xsp.node.managed import handle_request

T = TypeVar("T")


class NodeThread:
    def __init__(self, store: Store, *, ack_timeout: float = 5.0,
                 handshake_timeout: float = 10.0) -> None:
        self.store = store
        self.host = NodeHost(store, ack_timeout=ack_timeout, handshake_timeout=handshake_timeout)
        self._lock = NodeLock(store.dir)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="xsp-node", daemon=True)
        self._control: asyncio.AbstractServer | None = None

    def start(self) -> "NodeThread":
        try:
            self._lock.acquire()
        except BaseException:
            self._loop.close()
            raise
        self._thread.start()
        try:
            self.call(self._start())
        except BaseException:
            self.stop()
            raise
        return self

    async def _start(self) -> None:
        await self.host.start()
        self._control = await serve_control(self.store.dir, lambda r: handle_request(self.host, r))

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None = 60) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(timeout)

    def stop(self) -> None:
        if self._thread.is_alive():
            try:
                self.call(self._stop(), timeout=30)
            finally:
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._thread.join(10)
        if not self._loop.is_closed() and not self._thread.is_alive():
            self._loop.close()
        self._lock.release()

    async def _stop(self) -> None:
        if self._control is not None:
            await close_control(self._control, self.store.dir)
        await self.host.stop()

    def __enter__(self) -> "NodeThread":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

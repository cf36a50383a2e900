"""An asyncio loop in a daemon thread, for synchronous callers: the shell's background
node, ``xsp.testing``, the benchmarks' workers and tests that drive a listener."""
from __future__ import annotations

import asyncio
import threading
from typing import Any, Callable, Coroutine, TypeVar

T = TypeVar("T")


class LoopThread:
    """``run`` submits a coroutine to the loop and blocks until it ends (or ``timeout``)."""

    def __init__(self, name: str = "xsp-loop", *, timeout: float | None = 30.0) -> None:
        self.timeout = timeout
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = -1.0) -> T:
        """``timeout`` defaults to the loop's own; ``None`` waits without limit."""
        wait = self.timeout if timeout == -1.0 else timeout
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(wait)

    def call(self, fn: Callable[[], T], timeout: float | None = -1.0) -> T:
        """``fn()`` on the loop's thread, for reading state the loop owns."""
        async def on_the_loop() -> T:
            return fn()
        return self.run(on_the_loop(), timeout)

    def close(self, join: float = 10.0) -> None:
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(join)
        if not self._thread.is_alive() and not self.loop.is_closed():
            self.loop.close()

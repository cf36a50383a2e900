"""The event loop every entry point runs on, and an asyncio loop in a daemon thread for
synchronous callers: the shell's background node, ``xsp.testing``, the benchmarks'
workers and tests that drive a listener.

uvloop is the loop where it is installed (it is a dependency wherever it builds): its
readiness callbacks and timers cost less than asyncio's own, which shows in every
handshake and every event. ``XSP_EVENT_LOOP=asyncio`` chooses the standard library's
loop instead, which is also the fallback where uvloop is missing; the test suite runs
the listener on both.
"""
from __future__ import annotations

import asyncio
import os
import threading
from typing import Any, Callable, Coroutine, TypeVar

T = TypeVar("T")

LOOP_VARIABLE = "XSP_EVENT_LOOP"


def loop_kind() -> str:
    """``"uvloop"`` or ``"asyncio"``: the loop ``new_event_loop`` makes here."""
    if os.environ.get(LOOP_VARIABLE, "").strip().lower() in ("asyncio", "stdlib"):
        return "asyncio"
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def new_event_loop() -> asyncio.AbstractEventLoop:
    if loop_kind() == "uvloop":
        import uvloop
        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on the chosen loop."""
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(main)


class LoopThread:
    """``run`` submits a coroutine to the loop and blocks until it ends (or ``timeout``)."""

    def __init__(self, name: str = "xsp-loop", *, timeout: float | None = 30.0) -> None:
        self.timeout = timeout
        self.loop = new_event_loop()
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

"""The node under test, in a process of its own (run by ``common.Workers``).

The node is ``xsp.node.background.NodeThread`` on a state the engine configured: the CTI
listeners of the configuration, on their TLS transport, with the shared event
hub, exactly as ``xsp serve`` and the shell run them. Its loop runs in the node thread;
the worker's main thread only waits for the parent's next request, so it costs no CPU
while something is measured.

For latency, the hub of this process is instrumented (on the instance, nothing in
``xsp`` changes): ``publish`` notes when the call simulator asked for an event, and
``_enqueue`` files that instant under the (subscription, sequence number) the delivery
gets, which is what the client reads back from the event. Acknowledgements are counted
with the time of the last one, so the parent can wait without the node polling fast.
"""
from __future__ import annotations

import asyncio
import gc
import itertools
import logging
import os
import time
from pathlib import Path
from typing import Any

from bench.common import raise_nofile

_node: Any = None
_published: dict[tuple[str, int], float] = {}
_acks = {"count": 0, "last": 0.0}


def start(state_dir: str, ack_timeout: float = 5.0, log_level: int = logging.WARNING) -> dict[str, Any]:
    global _node
    raise_nofile()
    # The node logs a line per channel and subscription; at INFO that is file I/O
    # inside the measured loop, which an operator would not run with at scale.
    logging.basicConfig(level=log_level)
    from xsp.config.store import Store
    from xsp.node.background import NodeThread
    _node = NodeThread(Store(Path(state_dir)), ack_timeout=ack_timeout).start()
    _instrument(_node.host.hub)
    return ports()


def ports() -> dict[str, Any]:
    result = {}
    for runtime in _node.host.nodes.values():
        for ip, listener in runtime.listeners.items():
            if listener.site is None:
                raise RuntimeError(f"listener {ip} is not listening: {listener.problem}")
            result[ip] = listener.bound_port
    return {"pid": os.getpid(), "ports": result}


def _instrument(hub: Any) -> None:
    publish, enqueue, acknowledge = hub.publish, hub._enqueue, hub.acknowledge
    now: dict[str, float | None] = {"publish": None}

    def timed_publish(user_id: str, event_data: Any) -> None:
        now["publish"] = time.monotonic()
        try:
            publish(user_id, event_data)
        finally:
            now["publish"] = None

    def timed_enqueue(subscription: Any, target_id: str, data: Any) -> None:
        enqueue(subscription, target_id, data)
        if now["publish"] is not None:  # not a subscription's first event
            _published[(subscription.id, subscription._sequence)] = now["publish"]

    def counted_acknowledge(client: Any, response: Any) -> None:
        acknowledge(client, response)
        count_ack()

    hub.publish, hub._enqueue, hub.acknowledge = timed_publish, timed_enqueue, counted_acknowledge


def count_ack() -> None:
    """One acknowledgement settled, now: ``wait_acked`` waits for these (a baseline
    server counts its own with it)."""
    _acks["count"] += 1
    _acks["last"] = time.monotonic()


def stats() -> dict[str, Any]:
    hub = _node.host.hub
    return {"channels": hub.channel_count, "subscriptions": hub.subscription_count,
            "unacknowledged": hub.unacknowledged, "acks": dict(_acks), **hub.stats.as_dict()}


def collect_garbage() -> None:
    _node.call(_gc())


async def _gc() -> None:
    gc.collect()


def run_calls(pairs: list[list[str]], calls: int, rate: float | None = None) -> dict[str, Any]:
    """``calls`` basic calls between the ``pairs`` in turn, answered and released at once
    (11 events each); all at once when ``rate`` is None, else ``rate`` calls a second.
    Returns when every call has published all its events."""
    _published.clear()
    return _node.call(_run_calls(pairs, calls, rate), timeout=600)


async def _run_calls(pairs: list[list[str]], calls: int, rate: float | None) -> dict[str, Any]:
    simulator = _node.host.simulator
    cycle = itertools.cycle(pairs)
    tasks = []
    started = time.monotonic()
    for n in range(calls):
        if rate is not None:
            delay = started + n / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        caller, callee = next(cycle)
        tasks.append(simulator.call(caller, callee, answer_after=0, release_after=0))
    results = await asyncio.gather(*tasks)
    return {"started": started, "events": sum(len(r.events) for r in results),
            "published": len(_published)}


def wait_acked(count: int, timeout: float = 120) -> dict[str, Any]:
    """Wait until ``count`` acknowledgements arrived since the last ``reset_acks``."""
    deadline = time.monotonic() + timeout
    while _acks["count"] < count and time.monotonic() < deadline:
        time.sleep(0.02)  # in the worker's thread, not the node's loop
    return dict(_acks)


def reset_acks() -> None:
    _acks.update(count=0, last=0.0)


def publish_times() -> list[tuple[str, int, float]]:
    return [(sub, seq, t) for (sub, seq), t in _published.items()]


_profiler: Any = None


def profile_start() -> None:
    """cProfile on the node's loop thread (CPU time, not wall time), for finding where a
    figure goes; not used by the measured runs."""
    _node.call(_profile(True))


def profile_stop(limit: int = 30) -> str:
    import io
    import pstats
    _node.call(_profile(False))
    out = io.StringIO()
    stats = pstats.Stats(_profiler, stream=out)
    stats.sort_stats("tottime").print_stats(limit)
    stats.sort_stats("cumulative").print_stats(limit)
    return out.getvalue()


async def _profile(on: bool) -> None:
    global _profiler
    import cProfile
    if on:
        _profiler = cProfile.Profile(time.thread_time)
        _profiler.enable()
    else:
        _profiler.disable()


def stop() -> None:
    global _node
    if _node is not None:
        _node.stop()
        _node = None

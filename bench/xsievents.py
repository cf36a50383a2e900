"""Benchmark 2b: event delivery over the Xsi interface (HTTP streaming channels, each
event acknowledged by an HTTP request), 100 channels and 1,000 subscriptions, against
the minimal aiohttp server doing the same exchange.

The method is benchmark 2's (``bench.events``: the same state, users, calls, client
processes and figures); only the interface differs. xsp: the node (``bench.nodeproc``),
its Xsi interface on the port of the guide's interface address. Four client processes
run 25 ``WebexClient``s each with ``transport="http"``: one streaming channel per client
(``POST .../channel``, a chunked ``text/xml`` response carrying one document per chunk)
and its own channel set, 10 Advanced Call subscriptions each. Every event read off a
stream is acknowledged as Xsi-Events clients do, by ``POST .../channel/eventresponse``
with an ``EventResponse`` document, one at a time per client, on the client's
kept-alive request connection; the node answers 200.

Baseline: an aiohttp server (``web.AppRunner`` on a ``TCPSite``, uvloop as in the node,
no access log) in a process of its own, on the same certificate, chain, anchors and
suite (mTLS, TLS 1.2, ECDHE-RSA-AES128-GCM-SHA256), without a hub: it answers the
channel request with a ``Channel`` document and then writes, in the same chunked
streaming response, one chunk per document, the same event documents the node writes
(the simulator's own events rendered by ``xsp.cti.documents``); it answers each
subscription request with a ``Subscription`` document, and each acknowledgement with
status 200 after reading its body, without acting on it. The clients are the same
``WebexClient``s in the same processes, reading and acknowledging the same way.

Figures, as in benchmark 2: server CPU per event over a burst of calls published at
once, measured until the server (node or baseline) has answered the last
acknowledgement; the rate over the same span; latencies from publish to the client
reading the event, with calls paced at half the node's burst rate for both.
"""
from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path
from typing import Any

from bench import events
from bench.common import Row, Workers
from bench.state import HOST12, free_port

TARGET_CPU_RATIO = 1.8  # issue 15: node CPU per event against the minimal aiohttp server's
BASELINE = "minimal aiohttp server"
_CHANNEL_SET = re.compile(rb"<channelSetId>bench-events-(\d+)</channelSetId>")

# --- the minimal aiohttp server (runs in its own worker process) --------------------------


def bare_start(files: dict[str, str], users: list[str]) -> dict[str, Any]:
    """Serve channel set ``bench-events-N``'s channel from queue N, filled by
    ``events.bare_run_calls``."""
    port = free_port(HOST12)
    templates = events._templates(users)  # before the loop thread: it runs a loop of its own
    events._thread().run(_start(files, port))
    events._server.update(templates=templates, users=users, sequence={})
    return {"pid": os.getpid(), "port": port}


async def _start(files: dict[str, str], port: int) -> None:
    from aiohttp import web

    from bench import nodeproc
    from xsp.cti import documents as docs
    from xsp.cti.paths import ASYNC_ROOT, ROOT
    from xsp.xsi.streaming import CONTENT_TYPE
    queues: dict[int, asyncio.Queue[str | None]] = {}

    async def channel(request: web.Request) -> web.StreamResponse:
        found = _CHANNEL_SET.search(await request.read())
        if found is None:
            return web.Response(status=400)
        index = int(found.group(1))
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        queues[index] = queue
        response = web.StreamResponse(status=200, headers={"Content-Type": CONTENT_TYPE,
                                                           "Cache-Control": "no-cache"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            await response.write(docs.channel_document(f"bare-channel-{index}", 3600).encode())
            while (document := await queue.get()) is not None:
                await response.write(document.encode())
            await response.write_eof()
        except ConnectionError:
            pass  # the client closed its channel first
        return response

    async def subscription(request: web.Request) -> web.Response:
        await request.read()
        document = docs.subscription_document(f"bare-{request.match_info['user']}", 3600)
        return web.Response(body=document.encode(), headers={"Content-Type": CONTENT_TYPE})

    async def event_response(request: web.Request) -> web.Response:
        await request.read()
        nodeproc.count_ack()
        return web.Response(status=200)

    async def closing(request: web.Request) -> web.Response:
        return web.Response(status=200)  # the clients' deletions as they close

    app = web.Application()
    app.router.add_post(f"{ASYNC_ROOT}/channel", channel)
    app.router.add_post(f"{ROOT}/channel/eventresponse", event_response)
    app.router.add_post(f"{ROOT}/user/{{user}}", subscription)
    app.router.add_route("*", f"{ROOT}/{{tail:.*}}", closing)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, HOST12, port, ssl_context=events.server_context(files)).start()
    events._server.update(runner=runner, queues=queues)


def bare_stop() -> None:
    async def stop() -> None:
        for queue in events._server["queues"].values():
            queue.put_nowait(None)
        await events._server["runner"].cleanup()
    events._thread().run(stop())


# --- orchestration ----------------------------------------------------------------------

def _measure_bare(prepared: events.Setup, paced_rate: float, *, runs: int, burst_calls: int,
                  paced_seconds: float) -> events.Series:
    server = Workers(1)
    clients = Workers(events.CLIENT_PROCESSES)
    try:
        info = server.call(0, bare_start, files=prepared.files, users=prepared.users)
        clients.call_all(events.xsp_open, [
            dict(host=HOST12, port=info["port"], files=prepared.files, transport="http",
                 first_events=False, **prepared.share(i))
            for i in range(events.CLIENT_PROCESSES)])

        def measure(calls: int, rate: float | None) -> dict[str, Any]:
            return events.acked_round(server, clients, info["pid"], clients.pids,
                                      events.bare_run_calls, events.bare_publish_times,
                                      calls, rate)
        result = events.series(measure, "bare aiohttp", runs=runs, burst_calls=burst_calls,
                               paced_seconds=paced_seconds, paced_rate=paced_rate)
        clients.call_all(events.xsp_close, [{}] * events.CLIENT_PROCESSES)
        server.call(0, bare_stop)
        return result
    finally:
        clients.close()
        server.close()


def run(work: Path, *, runs: int = 3, burst_calls: int = 150,
        paced_seconds: float = 3.0) -> list[Row]:
    prepared = events.setup(work / "xsievents")
    xsp = events.measure_node(prepared, "http", runs=runs, burst_calls=burst_calls,
                              paced_seconds=paced_seconds)
    bare = _measure_bare(prepared, xsp.paced_rate, runs=runs, burst_calls=burst_calls,
                         paced_seconds=paced_seconds)
    paced = f"calls paced for {paced_seconds:g} s at half the xsp burst rate"
    return [
        Row("Event delivery rate, Xsi HTTP streaming (delivered + acknowledged)",
            xsp.median("events_per_s"), "events/s", bare.median("events_per_s"), BASELINE,
            target="-", met=None, better="higher",
            note=f"{events.CHANNELS} HTTP streaming channels, {events.SUBSCRIPTIONS} "
                 f"subscriptions, {events.CLIENT_PROCESSES} client processes; {runs} bursts "
                 f"of {burst_calls} calls ({burst_calls * events.EVENTS_PER_CALL} events); "
                 "an HTTP request acknowledges each event",
            details={"paced": {"xsp": xsp.paced, "bare": bare.paced},
                     "paced_events_per_s": xsp.paced_rate, "burst_calls": burst_calls}),
        events.cpu_row(", Xsi HTTP streaming", xsp, bare, BASELINE, TARGET_CPU_RATIO,
                       "node process CPU over the burst / events, each event's "
                       "acknowledgement request answered; the baseline answers them "
                       "without a hub"),
        Row(f"Event latency p99 at {xsp.paced_rate:.0f} events/s, Xsi HTTP streaming",
            xsp.paced["p99_ms"], "ms", bare.paced["p99_ms"], BASELINE, target="-", met=None,
            note=f"{paced}; p50 {xsp.paced['p50_ms']:.1f} ms (baseline "
                 f"{bare.paced['p50_ms']:.1f} ms)"),
    ]

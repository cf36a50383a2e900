"""Benchmark 2: event delivery over the CTI interface protocol, 100 channels and 1,000
subscriptions, against a bare asyncio TLS socket doing the same exchange.

xsp: the node (``bench.nodeproc``) with 1,000 bench users added to the AS directory. Four
client processes run 25 ``WebexClient``s each (the project's Webex-like client, over mTLS,
one CTI interface connection and channel per client, its own channel set); each client
subscribes 10 users to Advanced Call: 100 channels, 1,000 subscriptions. Calls run in
the node by the call simulator (``CallSimulator``), caller ``user[i]`` and callee
``user[i + 500]`` so both parties sit on other channels, answered and released at once:
11 Advanced Call events per call, one subscription each. Every ``event`` message is
acknowledged with an ``eventResponse`` on the same connection, as the client does.

Baseline: a bare asyncio TLS server (``asyncio.start_server``, same certificate and
suite, no hub) in a process of its own, writing the same ``event`` messages (the
simulator's own events rendered by ``xsp.cti.documents`` in the envelope of
``xsp.ctiproto.messages``) to the same 100 connections and reading their
``eventResponse``s without acting on them; the same number of client processes read
every message the way the Webex-like client does (the same reader and parse) and answer
each with an ``eventResponse``.

Figures. Server CPU per event: the server process's CPU (its POSIX CPU clock, every
thread) over a burst divided by the burst's events, the median of the bursts; issue 15
wants the node's within 1.5x the bare server's. Rate: a burst of calls published at
once; events divided by the time from the first publish to the last acknowledgement
(xsp) or the last receipt (baseline). Latency:
calls paced at half the xsp burst rate measured in the same run, the same event rate
for both; from the publish (the simulator's ``hub.publish`` call, or the bare server's
enqueue) to the client reading the event off its stream. Both ends use CLOCK_MONOTONIC,
which is one clock for every process of the machine, so no offset is estimated. The key
is the event's (subscriptionId, sequenceNumber), which the node files at publish time.
``bench.xsievents`` measures the same over the Xsi interface's HTTP streaming channels.
"""
from __future__ import annotations

import asyncio
import os
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from bench.common import LoopThread, Row, Workers, cpu_seconds, log, median, percentile
from bench.state import HOST12, NodeState, free_port, node_state

CLIENT_PROCESSES = 4
CHANNELS = 100
SUBSCRIPTIONS = 1000
USERS_PER_CHANNEL = SUBSCRIPTIONS // CHANNELS
# A basic answered call is 11 events, all in the Advanced Call package: 11 deliveries
# per call.
EVENTS_PER_CALL = 11
TARGET_RATE_RATIO = 0.5
TARGET_CPU_RATIO = 1.5  # issue 15: node CPU per event against the bare server's
TARGET_P99_MS = 20.0  # issue 15: p99 at 1,000 subscriptions

# --- the client side (runs in the client worker processes) --------------------------------

_loop: LoopThread | None = None
_clients: list[Any] = []
_tasks: list[asyncio.Task[None]] = []
_receipts: list[tuple[str, int, float]] = []


def _thread() -> LoopThread:
    global _loop
    if _loop is None:
        _loop = LoopThread("bench-client")
    return _loop


def xsp_open(host: str, port: int, files: dict[str, str], groups: list[list[str]],
             transport: str = "cti", first_set: int = 0, first_events: bool = True) -> int:
    """One WebexClient per group of users: a channel in channel set ``bench-events-N``
    (N counting from ``first_set``), a subscription per user. With ``first_events``,
    returns once every subscription's first event (CallSubscriptionEvent) has arrived
    (its acknowledgement is on its way)."""
    return _thread().run(_xsp_open(host, port, files, groups, transport, first_set,
                                   first_events))


async def _xsp_open(host: str, port: int, files: dict[str, str], groups: list[list[str]],
                    transport: str, first_set: int, first_events: bool) -> int:
    from xsp.webex.client import WebexClient, tls_context
    context = tls_context(files["cert"], files["key"], files["ca"])
    for n, users in enumerate(groups):
        # auto_ack off: the receipt is timed when the event comes off the stream, and the
        # acknowledgements go one at a time from a task of their own, as auto_ack would.
        # Each client is its own application: clients sharing an applicationId would
        # end each other's channel sets (DuplicateChannelSet), as on a real XSP.
        client = WebexClient(host, port, ssl_context=context, auto_ack=False,
                             transport=transport, heartbeat_interval=3600,
                             channel_set_id=f"bench-events-{first_set + n}",
                             application_id=f"bench-events-{os.getpid()}-{len(_clients)}")
        await client.open()
        for user in users:
            await client.subscribe(user)
        _clients.append(client)
        _tasks.append(asyncio.ensure_future(_consume(client)))
    expected = sum(len(g) for g in groups) if first_events else 0
    deadline = time.monotonic() + 60
    while len(_receipts) < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return len(_receipts)


async def _consume(client: Any) -> None:
    acks: asyncio.Queue[Any] = asyncio.Queue()

    async def acknowledge() -> None:
        while True:
            event = await acks.get()
            await client.acknowledge(event)

    acker = asyncio.ensure_future(acknowledge())
    try:
        async for event in client.events():
            _receipts.append((event.subscription_id, event.sequence_number, time.monotonic()))
            acks.put_nowait(event)
    finally:
        acker.cancel()


def take_receipts() -> list[tuple[str, int, float]]:
    async def take() -> list[tuple[str, int, float]]:
        # On the loop's thread, so no receipt is appended between the copy and the clear.
        taken = list(_receipts)
        _receipts.clear()
        return taken
    return _thread().run(take())


def xsp_close() -> None:
    async def close() -> None:
        for task in _tasks:
            task.cancel()
        for client in _clients:
            await client.close()
    _thread().run(close())
    _clients.clear()


def bare_open(host: str, port: int, files: dict[str, str], connections: list[int]) -> int:
    return _thread().run(_bare_open(host, port, files, connections))


async def _bare_open(host: str, port: int, files: dict[str, str], connections: list[int]) -> int:
    from xsp.webex.client import tls_context
    context = tls_context(files["cert"], files["key"], files["ca"])
    for index in connections:
        reader, writer = await asyncio.open_connection(host, port, ssl=context)
        writer.write(f"{index}\n".encode())  # which of the server's queues this is
        _bare_writers.append(writer)
        _tasks.append(asyncio.ensure_future(_bare_read(reader, writer)))
    return len(connections)


async def _bare_read(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    from xsp.ctiproto import messages as m
    from xsp.ctiproto.client import event_response
    from xsp.ctiproto.codec import DocumentReader
    from xsp.webex.received import XsiEvent, event_of
    documents = DocumentReader()
    while data := await reader.read(65536):
        for document in documents.documents(data):
            # The same reading as the Webex-like client's, so both clients cost the same.
            message = m.parse(document.root, document.raw)
            assert isinstance(message, m.Event)
            event = event_of(message)
            # An event without these could not be matched to its publication.
            if (isinstance(event, XsiEvent) and event.event_id is not None
                    and event.subscription_id is not None
                    and event.sequence_number is not None):
                _receipts.append((event.subscription_id, event.sequence_number, time.monotonic()))
                writer.write(event_response(message.request_id, event.event_id))


_bare_writers: list[asyncio.StreamWriter] = []


def bare_close() -> None:
    async def close() -> None:
        for task in _tasks:
            task.cancel()
        for writer in _bare_writers:
            writer.close()
    _thread().run(close())


# --- the bare asyncio TLS server (runs in its own worker process) -------------------------

_server: dict[str, Any] = {}
_bare_published: dict[tuple[str, int], float] = {}


def bare_start(files: dict[str, str], users: list[str]) -> dict[str, Any]:
    """A TLS server whose connection N (named in its first line) writes queue N as events."""
    import os
    port = free_port(HOST12)
    templates = _templates(users)  # before the loop thread: it runs a loop of its own
    _thread().run(_bare_start(files, port, users))
    _server["templates"] = templates
    return {"pid": os.getpid(), "port": port}


def server_context(files: dict[str, str]) -> ssl.SSLContext:
    """The node's certificate, chain and suite on the guide's interface (TLS 1.2,
    ECDHE-RSA-AES128-GCM-SHA256), client certificates required under its anchors."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers("ECDHE-RSA-AES128-GCM-SHA256")
    context.load_cert_chain(files["server_chain"], files["server_key"])
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cafile=files["anchors"])
    return context


async def _bare_start(files: dict[str, str], port: int, users: list[str]) -> None:
    from xsp.ctiproto import messages as m
    context = server_context(files)
    queues: dict[int, asyncio.Queue[str | None]] = {}

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        index = int((await reader.readline()).decode())
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        queues[index] = queue

        async def drain_acknowledgements() -> None:
            while await reader.read(65536):
                pass  # read as the node reads them, without a hub to act on them

        acks = asyncio.ensure_future(drain_acknowledgements())
        number = 0
        try:
            while (document := await queue.get()) is not None:
                number += 1
                writer.write(m.render(m.Event(f"e{number}", document)))
        finally:
            acks.cancel()
            writer.close()

    server = await asyncio.start_server(connection, HOST12, port, ssl=context)
    _server.update(server=server, queues=queues, sequence={}, users=users)


def _templates(users: list[str]) -> list[tuple[int, list[str]]]:
    """The documents of one call as the node sends them, with holes for what differs
    between sends: (party 0 caller / 1 callee, the document split at its holes)."""
    from xsp.cti import documents as docs
    from xsp.cti.calls import CallSimulator
    from xsp.cti.hub import EventHub
    from xsp.cti.directory import UserDirectory
    from xsp.cti.packages import package

    class Recorder:  # what CallSimulator needs of a hub: a directory and publish()
        directory = UserDirectory(lambda: users)
        published: list[tuple[str, Any]] = []

        def publish(self, user_id: str, data: Any) -> None:
            self.published.append((user_id, data))

    recorder = Recorder()
    asyncio.run(CallSimulator(cast(EventHub, recorder)).run_call(users[0], users[500], answer_after=0,
                                                 release_after=0))
    advanced = package("Advanced Call")
    assert advanced is not None
    carried = advanced.carries  # what the node's subscriptions get
    templates = []
    for user_id, data in recorder.published:
        if data.type not in carried:
            continue
        envelope = docs.Envelope(
            event_id="\0E" + "0" * 34, sequence_number=0, subscription_id="\0S" + "0" * 34,
            channel_id="c" * 36, target_id=user_id,
            external_application_id="xsp-webex-client", client_id="bwcticlient.webex.com",
            user_id=None)
        text = docs.event_document(envelope, data)
        text = text.replace("<xsi:sequenceNumber>0<", "<xsi:sequenceNumber>\0Q<")
        templates.append((0 if user_id == users[0] else 1, text))
    return [(party, _holes(text)) for party, text in templates]


def _holes(text: str) -> list[str]:
    import re
    return re.split("\0E0{34}|\0S0{34}|\0Q", text)


def bare_run_calls(calls: int, rate: float | None) -> dict[str, Any]:
    _bare_published.clear()
    return _thread().run(_bare_run_calls(calls, rate))


async def _bare_run_calls(calls: int, rate: float | None) -> dict[str, Any]:
    import uuid
    queues, templates, sequence = _server["queues"], _server["templates"], _server["sequence"]
    half = len(_server["users"]) // 2
    started = time.monotonic()
    sent = 0
    for n in range(calls):
        if rate is not None:
            delay = started + n / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        pair = n % half
        parties = (pair, pair + half)
        for party, parts in templates:
            user = parties[party]
            connection = user // USERS_PER_CHANNEL
            subscription = f"bare-{user:04d}".ljust(36, "0")
            number = sequence.get(user, 0) + 1
            sequence[user] = number
            text = (parts[0] + str(uuid.uuid4()) + parts[1] + str(number) + parts[2]
                    + subscription + parts[3])
            _bare_published[(subscription, number)] = time.monotonic()
            queues[connection].put_nowait(text)
            sent += 1
    return {"started": started, "events": sent, "published": sent}


def bare_publish_times() -> list[tuple[str, int, float]]:
    return [(sub, seq, t) for (sub, seq), t in _bare_published.items()]


def bare_stop() -> None:
    async def stop() -> None:
        for queue in _server["queues"].values():
            queue.put_nowait(None)  # each stream handler ends, so cleanup has none to wait for
        await asyncio.sleep(0.2)
        _server["server"].close()
    _thread().run(stop())


# --- orchestration ----------------------------------------------------------------------

def _latencies(published: list[tuple[str, int, float]],
               receipts: list[tuple[str, int, float]]) -> tuple[list[float], int]:
    sent = {(sub, seq): t for sub, seq, t in published}
    found = [(t - sent[(sub, seq)]) * 1000 for sub, seq, t in receipts if (sub, seq) in sent]
    return found, len(sent)


def _collect(clients: Workers) -> list[tuple[str, int, float]]:
    return [r for part in clients.call_all(take_receipts, [{}] * CLIENT_PROCESSES) for r in part]


def _wait_receipts(clients: Workers, expected: int, timeout: float = 60) -> list[tuple[str, int, float]]:
    receipts: list[tuple[str, int, float]] = []
    deadline = time.monotonic() + timeout
    while len(receipts) < expected and time.monotonic() < deadline:
        time.sleep(0.05)
        receipts += _collect(clients)
    return receipts


def acked_round(server: Workers, clients: Workers, server_pid: int, client_pids: list[int],
                run_calls: Callable[..., dict[str, Any]],
                publish_times: Callable[[], list[tuple[str, int, float]]], calls: int,
                rate: float | None, **arguments: Any) -> dict[str, Any]:
    """One burst (``rate`` None) or paced series of calls by ``run_calls`` in the server
    process, measured until the server has counted every acknowledgement
    (``nodeproc.wait_acked``): the server's CPU, the rate, the latencies."""
    from bench import nodeproc
    server.call(0, nodeproc.reset_acks)
    _collect(clients)
    cpu0 = cpu_seconds(server_pid)
    ccpu0 = sum(cpu_seconds(p) for p in client_pids)
    info = server.call(0, run_calls, calls=calls,
                       rate=None if rate is None else rate / EVENTS_PER_CALL, **arguments)
    # Deliveries: one per event and covering subscription.
    expected = info["published"]
    acks = server.call(0, nodeproc.wait_acked, count=expected)
    cpu = cpu_seconds(server_pid) - cpu0
    client_cpu = sum(cpu_seconds(p) for p in client_pids) - ccpu0
    receipts = _wait_receipts(clients, expected)
    published = server.call(0, publish_times)
    latencies, _ = _latencies(published, receipts)
    first = min(t for _, _, t in published)
    elapsed = acks["last"] - first
    return {"events": expected, "acknowledged": acks["count"], "received": len(latencies),
            "events_per_s": acks["count"] / elapsed, "seconds": elapsed,
            "p50_ms": percentile(latencies, 50), "p99_ms": percentile(latencies, 99),
            "max_ms": max(latencies), "server_cpu_s": cpu, "client_cpu_s": client_cpu,
            "server_cpu_ms_per_event": cpu / expected * 1000}


def _bare_round(server: Workers, clients: Workers, server_pid: int, client_pids: list[int],
                calls: int, rate: float | None) -> dict[str, Any]:
    _collect(clients)
    cpu0 = cpu_seconds(server_pid)
    ccpu0 = sum(cpu_seconds(p) for p in client_pids)
    info = server.call(0, bare_run_calls, calls=calls,
                       rate=None if rate is None else rate / EVENTS_PER_CALL)
    receipts = _wait_receipts(clients, info["events"])
    cpu = cpu_seconds(server_pid) - cpu0
    client_cpu = sum(cpu_seconds(p) for p in client_pids) - ccpu0
    published = server.call(0, bare_publish_times)
    latencies, _ = _latencies(published, receipts)
    first = min(t for _, _, t in published)
    elapsed = max(t for _, _, t in receipts) - first
    return {"events": info["events"], "received": len(latencies),
            "events_per_s": len(latencies) / elapsed, "seconds": elapsed,
            "p50_ms": percentile(latencies, 50), "p99_ms": percentile(latencies, 99),
            "max_ms": max(latencies), "server_cpu_s": cpu, "client_cpu_s": client_cpu,
            "server_cpu_ms_per_event": cpu / info["events"] * 1000}


Round = Callable[[int, float | None], dict[str, Any]]


@dataclass
class Series:
    bursts: list[dict[str, Any]]
    paced: dict[str, Any]
    paced_rate: float  # events/s

    def median(self, key: str) -> float:
        return median(r[key] for r in self.bursts)


def series(measure: Round, label: str, *, runs: int, burst_calls: int, paced_seconds: float,
           paced_rate: float | None = None) -> Series:
    """A warm-up, ``runs`` bursts, then calls paced at ``paced_rate`` events/s (by default
    half the median burst rate) for about ``paced_seconds``."""
    measure(20, None)
    bursts = []
    for _ in range(runs):
        bursts.append(measure(burst_calls, None))
        log(f"{label} burst: {bursts[-1]['events_per_s']:.0f} events/s, server "
            f"{bursts[-1]['server_cpu_ms_per_event'] * 1000:.0f} µs CPU per event")
    if paced_rate is None:
        paced_rate = median(r["events_per_s"] for r in bursts) / 2
    paced = measure(max(10, int(paced_rate * paced_seconds / EVENTS_PER_CALL)), paced_rate)
    log(f"{label} paced at {paced_rate:.0f} events/s: p50 {paced['p50_ms']:.1f} ms, "
        f"p99 {paced['p99_ms']:.1f} ms")
    return Series(bursts, paced, paced_rate)


@dataclass(frozen=True)
class Setup:
    state: NodeState
    pairs: list[list[str]]   # caller and callee of each call, in turn
    groups: list[list[str]]  # the users of each channel
    files: dict[str, str]    # client and server credentials, as paths

    @property
    def users(self) -> list[str]:
        return list(self.state.users)

    def share(self, process: int) -> dict[str, Any]:
        """What client process ``process`` opens: its channels' groups and their first
        channel set number."""
        share = CHANNELS // CLIENT_PROCESSES
        return {"groups": self.groups[process * share:(process + 1) * share],
                "first_set": process * share}


def setup(base: Path) -> Setup:
    state = node_state(base, users=SUBSCRIPTIONS)
    users = list(state.users)
    half = len(users) // 2
    chain = base / "server-with-chain.pem"
    chain.write_bytes(state.pki.server_cert.read_bytes() + state.pki.server_chain.read_bytes())
    files = {"cert": str(state.pki.webex_client_cert), "key": str(state.pki.webex_client_key),
             "ca": str(state.pki.partner_ca), "server_chain": str(chain),
             "server_key": str(state.pki.server_key), "anchors": str(state.anchors)}
    return Setup(state, [[users[i], users[i + half]] for i in range(half)],
                 [users[i:i + USERS_PER_CHANNEL] for i in range(0, len(users), USERS_PER_CHANNEL)],
                 files)


def measure_node(setup: Setup, transport: str, *, runs: int, burst_calls: int,
                 paced_seconds: float) -> Series:
    """The node in a process of its own, the Webex-like clients on ``transport`` (the CTI
    interface, or HTTP streaming on the Xsi interface's port)."""
    from bench import nodeproc
    node = Workers(1)
    clients = Workers(CLIENT_PROCESSES)
    try:
        info = node.call(0, nodeproc.start, state_dir=str(setup.state.dir))
        node_pid = info["pid"]
        port = info["ports"][HOST12] if transport == "cti" else setup.state.xsi_port
        opened = clients.call_all(xsp_open, [
            dict(host=HOST12, port=port, files=setup.files, transport=transport,
                 **setup.share(i)) for i in range(CLIENT_PROCESSES)])
        stats = node.call(0, nodeproc.stats)
        log(f"xsp ({transport}): {stats['channels']} channels, {stats['subscriptions']} "
            f"subscriptions, {sum(opened)} first events received")

        def measure(calls: int, rate: float | None) -> dict[str, Any]:
            return acked_round(node, clients, node_pid, clients.pids, nodeproc.run_calls,
                               nodeproc.publish_times, calls, rate, pairs=setup.pairs)
        result = series(measure, f"xsp ({transport})", runs=runs, burst_calls=burst_calls,
                        paced_seconds=paced_seconds)
        clients.call_all(xsp_close, [{}] * CLIENT_PROCESSES)
        node.call(0, nodeproc.stop)
        return result
    finally:
        clients.close()
        node.close()


def cpu_row(interface: str, node: Series, bare: Series, baseline: str, ratio: float,
            note: str) -> Row:
    figure, base = node.median("server_cpu_ms_per_event"), bare.median("server_cpu_ms_per_event")
    return Row(f"Event delivery{interface}: server CPU per event (burst)", figure, "ms", base,
               baseline, target=f"<= {ratio:g}x baseline", met=figure <= ratio * base,
               note=note + "; client processes used " + ", ".join(
                   f"{r['client_cpu_s']:.2f}" for r in node.bursts) + " CPU s per xsp burst",
               details={"xsp_bursts": node.bursts, "bare_bursts": bare.bursts})


def run(work: Path, *, runs: int = 3, burst_calls: int = 150,
        paced_seconds: float = 3.0) -> list[Row]:
    prepared = setup(work / "events")
    xsp = measure_node(prepared, "cti", runs=runs, burst_calls=burst_calls,
                       paced_seconds=paced_seconds)

    server = Workers(1)
    clients = Workers(CLIENT_PROCESSES)
    try:
        info = server.call(0, bare_start, files=prepared.files, users=prepared.users)
        server_pid, port = info["pid"], info["port"]
        share = CHANNELS // CLIENT_PROCESSES
        clients.call_all(bare_open, [
            dict(host=HOST12, port=port, files=prepared.files,
                 connections=list(range(i * share, (i + 1) * share)))
            for i in range(CLIENT_PROCESSES)])
        time.sleep(0.5)  # every stream's handler registered

        def measure(calls: int, rate: float | None) -> dict[str, Any]:
            return _bare_round(server, clients, server_pid, clients.pids, calls, rate)
        bare = series(measure, "bare", runs=runs, burst_calls=burst_calls,
                      paced_seconds=paced_seconds, paced_rate=xsp.paced_rate)
        clients.call_all(bare_close, [{}] * CLIENT_PROCESSES)
        server.call(0, bare_stop)
    finally:
        clients.close()
        server.close()

    xsp_rate, bare_rate = xsp.median("events_per_s"), bare.median("events_per_s")
    paced_rate = xsp.paced_rate
    paced = {"xsp": xsp.paced, "bare": bare.paced}
    details = {"xsp_bursts": xsp.bursts, "bare_bursts": bare.bursts, "paced": paced,
               "paced_events_per_s": paced_rate, "burst_calls": burst_calls,
               "channels": CHANNELS, "subscriptions": SUBSCRIPTIONS,
               "client_processes": CLIENT_PROCESSES}
    setup_note = (f"{CHANNELS} channels, {SUBSCRIPTIONS} subscriptions, {CLIENT_PROCESSES} "
                  f"client processes; {runs} bursts of {burst_calls} calls "
                  f"({burst_calls * EVENTS_PER_CALL} events)")
    return [
        Row("Event delivery rate (delivered + acknowledged)", xsp_rate, "events/s",
            bare_rate, "bare asyncio TLS socket", target=f">= {TARGET_RATE_RATIO}x baseline",
            met=xsp_rate >= TARGET_RATE_RATIO * bare_rate, better="higher", note=setup_note,
            details=details),
        cpu_row("", xsp, bare, "bare asyncio TLS socket", TARGET_CPU_RATIO,
                "node process CPU over the burst / events; xsp's includes the "
                "hub's work on each acknowledgement, the bare server only reads them"),
        Row(f"Event latency p50 at {paced_rate:.0f} events/s", paced["xsp"]["p50_ms"], "ms",
            paced["bare"]["p50_ms"], "bare asyncio TLS socket", target="-", met=None,
            note=f"calls paced for {paced_seconds:g} s at half the xsp burst rate"),
        Row(f"Event latency p99 at {paced_rate:.0f} events/s", paced["xsp"]["p99_ms"], "ms",
            paced["bare"]["p99_ms"], "bare asyncio TLS socket", target=f"< {TARGET_P99_MS:g} ms",
            met=paced["xsp"]["p99_ms"] < TARGET_P99_MS,
            note=f"calls paced for {paced_seconds:g} s at half the xsp burst rate"),
    ]

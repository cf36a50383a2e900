"""Benchmark 3: memory and CPU per open idle channel at 1,000 and 10,000 channels, and
whether the node still answers a request within 100 ms with them open.

The node (``bench.nodeproc``) runs in its own process, as in benchmark 1. Two client
processes (RLIMIT_NOFILE raised to the hard limit in them and in the node) open the
channels over mTLS: one connection per channel, ``POST .../channel`` with a channel set
of its own, read the ``Channel`` reply, then leave the stream idle. To keep set-up within
the run-time budget each client process makes one full handshake and resumes its TLS
session (ticket) for the others; the server keeps the same per-connection state either
way (the ticket carries the client certificate, which the node keeps, as after a full
handshake).

Memory: the node's RSS (``/proc/PID/status`` VmRSS) after a warm-up of 20 channels and a
``gc.collect()``, and again with the N channels open (after ``gc.collect()`` and a
settle); the difference divided by N. Responsiveness: with the channels open, the parent
sends requests on a kept-alive mTLS connection of its own (a heartbeat on one channel,
20 of them 50 ms apart, so they land at random points of the node's timers) and times
each answer; plus the node's CPU use while idle (its POSIX CPU clock over five seconds
in which nothing is published).
"""
from __future__ import annotations

import asyncio
import http.client
import ssl
import time
from pathlib import Path
from typing import Any

from bench.common import (LoopThread, Row, Workers, cpu_seconds, log, median, percentile,
                          raise_nofile, rss_bytes)
from bench.state import HOST12, node_state
from xsp.cti.documents import NS
from xsp.cti.paths import ASYNC_ROOT, ROOT

CLIENT_PROCESSES = 2
TARGET_KIB = 40
TARGET_IDLE_CPU = 0.02  # of one core, with the channels open and nothing happening
IDLE_SECONDS = 5.0
TARGET_MS = 100.0

# --- the client side (runs in the client worker processes) --------------------------------

_loop: LoopThread | None = None
_open: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
_session: ssl.SSLSession | None = None


def open_channels(host: str, port: int, files: dict[str, str], count: int, tag: str,
                  concurrency: int = 64) -> dict[str, Any]:
    """Open ``count`` idle streaming channels; return the channel ids and how many of the
    handshakes resumed a session."""
    global _loop
    raise_nofile()
    if _loop is None:
        _loop = LoopThread("bench-scale-client")
    return _loop.run(_open_channels(host, port, files, count, tag, concurrency), timeout=900)


async def _open_channels(host: str, port: int, files: dict[str, str], count: int, tag: str,
                         concurrency: int) -> dict[str, Any]:
    from xsp.webex.client import tls_context
    context = tls_context(files["cert"], files["key"], files["ca"])
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    ids: list[str] = []
    if _session is None:
        ids.append(await _open_one(host, port, context, None, f"{tag}-first"))
    gate = asyncio.Semaphore(concurrency)

    async def one(n: int) -> None:
        async with gate:
            channel_id = await _open_one(host, port, context, _session, f"{tag}-{n}")
            ids.append(channel_id)

    await asyncio.gather(*(one(n) for n in range(count - len(ids))))
    resumed = sum(1 for _, writer in _open
                  if writer.get_extra_info("ssl_object").session_reused)
    return {"opened": len(ids), "resumed": resumed, "ids": ids[:5]}


async def _open_one(host: str, port: int, context: ssl.SSLContext,
                    session: ssl.SSLSession | None, channel_set: str) -> str:
    global _session
    # asyncio's open_connection has no session parameter: wrap the socket ourselves.
    import socket
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setblocking(False)
    await asyncio.get_running_loop().sock_connect(raw, (host, port))
    reader, writer = await asyncio.open_connection(
        sock=raw, ssl=_SessionContext(context, session), server_hostname=host)
    if session is None:
        _session = writer.get_extra_info("ssl_object").session
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Channel xmlns="{NS}">'
            f"<channelSetId>{channel_set}</channelSetId><priority>1</priority>"
            f"<weight>50</weight><expires>3600</expires>"
            # One application per channel set: a second set naming the same
            # applicationId would end the first set's channels (DuplicateChannelSet).
            f"<applicationId>{channel_set}</applicationId></Channel>").encode()
    writer.write(f"POST {ASYNC_ROOT}/channel HTTP/1.1\r\nHost: {host}:{port}\r\n"
                 f"Content-Type: text/xml; charset=UTF-8\r\nContent-Length: {len(body)}\r\n"
                 "\r\n".encode() + body)
    received = b""
    while b"</Channel>" not in received:
        data = await reader.read(4096)
        if not data:
            raise ConnectionError(f"channel closed before its Channel reply: {received[:200]!r}")
        received += data
    if b" 200 " not in received.split(b"\r\n", 1)[0]:
        raise ConnectionError(f"channel refused: {received[:200]!r}")
    _open.append((reader, writer))
    return received.split(b"<channelId>", 1)[1].split(b"</channelId>", 1)[0].decode()


class _SessionContext:
    """An SSLContext stand-in whose wrap_bio offers a session: asyncio calls only that."""

    def __init__(self, context: ssl.SSLContext, session: ssl.SSLSession | None) -> None:
        self._context, self._session = context, session

    def wrap_bio(self, incoming: ssl.MemoryBIO, outgoing: ssl.MemoryBIO, server_side: bool = False,
                 server_hostname: str | None = None) -> ssl.SSLObject:
        return self._context.wrap_bio(incoming, outgoing, server_side=server_side,
                                      server_hostname=server_hostname, session=self._session)


def close_channels() -> int:
    async def close() -> int:
        count = len(_open)
        for _, writer in _open:
            writer.transport.abort()
        _open.clear()
        return count
    assert _loop is not None
    return _loop.run(close())


# --- the measuring client (runs in the parent) -------------------------------------------

def _request_latencies(host: str, port: int, files: dict[str, str], channel_id: str,
                       count: int = 20, spacing: float = 0.05) -> list[float]:
    from xsp.webex.client import tls_context
    context = tls_context(files["cert"], files["key"], files["ca"])
    connection = http.client.HTTPSConnection(host, port, context=context, timeout=30)
    path = f"{ROOT}/channel/{channel_id}/heartbeat"
    times = []
    try:
        connection.request("PUT", path)  # the handshake, not timed
        connection.getresponse().read()
        for _ in range(count):
            time.sleep(spacing)
            started = time.perf_counter()
            connection.request("PUT", path)
            response = connection.getresponse()
            response.read()
            times.append((time.perf_counter() - started) * 1000)
            if response.status != 200:
                raise RuntimeError(f"heartbeat answered HTTP {response.status}")
    finally:
        connection.close()
    return times


def _cold_request(host: str, port: int, files: dict[str, str], channel_id: str) -> float:
    """A new mTLS connection (full handshake) and one request, as a new client would."""
    from xsp.webex.client import tls_context
    context = tls_context(files["cert"], files["key"], files["ca"])
    started = time.perf_counter()
    connection = http.client.HTTPSConnection(host, port, context=context, timeout=30)
    connection.request("PUT", f"{ROOT}/channel/{channel_id}/heartbeat")
    connection.getresponse().read()
    elapsed = (time.perf_counter() - started) * 1000
    connection.close()
    return elapsed


# --- orchestration ----------------------------------------------------------------------

def _settled_rss(node: Workers, pid: int) -> int:
    from bench import nodeproc
    node.call(0, nodeproc.collect_garbage)
    time.sleep(1.0)
    return rss_bytes(pid)


def _step(node: Workers, pid: int, port: int, files: dict[str, str],
          total: int) -> dict[str, Any]:
    """Open ``total`` channels on a node that has none, measure, close them."""
    from bench import nodeproc
    clients = Workers(CLIENT_PROCESSES)
    try:
        before = _settled_rss(node, pid)
        share = [total // CLIENT_PROCESSES + (1 if i < total % CLIENT_PROCESSES else 0)
                 for i in range(CLIENT_PROCESSES)]
        started = time.perf_counter()
        opened = clients.call_all(open_channels, [
            dict(host=HOST12, port=port, files=files, count=n, tag=f"scale{total}-{i}")
            for i, n in enumerate(share)], timeout=900)
        open_seconds = time.perf_counter() - started
        stats = node.call(0, nodeproc.stats)
        after = _settled_rss(node, pid)
        count = sum(o["opened"] for o in opened)
        idle_cpu0, idle_t0 = cpu_seconds(pid), time.perf_counter()
        time.sleep(IDLE_SECONDS)
        idle_cpu = (cpu_seconds(pid) - idle_cpu0) / (time.perf_counter() - idle_t0)
        channel_id = opened[0]["ids"][0]
        warm = _request_latencies(HOST12, port, files, channel_id)
        cold = [_cold_request(HOST12, port, files, channel_id) for _ in range(5)]
        result = {
            "channels_open": stats["channels"], "opened_now": count,
            "resumed_handshakes": sum(o["resumed"] for o in opened),
            "open_seconds": open_seconds, "rss_before_mib": before / 2**20,
            "rss_after_mib": after / 2**20,
            "kib_per_channel": (after - before) / count / 1024,
            "idle_cpu_fraction": idle_cpu,
            "request_ms_median": median(warm), "request_ms_max": max(warm),
            "request_ms_p90": percentile(warm, 90), "request_ms_all": warm,
            "new_connection_request_ms_median": median(cold),
            "new_connection_request_ms_max": max(cold),
        }
        clients.call_all(close_channels, [{}] * CLIENT_PROCESSES)
        return result
    finally:
        clients.close()


def run(work: Path, *, sizes: tuple[int, ...] = (1000, 10000)) -> list[Row]:
    from bench import nodeproc
    raise_nofile()
    state = node_state(work / "scale")
    files = {"cert": str(state.pki.webex_client_cert), "key": str(state.pki.webex_client_key),
             "ca": str(state.pki.partner_ca)}
    results: dict[int, dict[str, Any]] = {}
    rows: list[Row] = []
    for size in sizes:
        # A fresh node per size: the RSS delta of the second size must not ride on
        # memory the first one freed into Python's or malloc's free lists.
        node = Workers(1)
        try:
            info = node.call(0, nodeproc.start, state_dir=str(state.dir))
            # Idle channels are HTTP streaming channels, on the Xsi interface's port.
            pid, port = info["pid"], state.xsi_port
            _step(node, pid, port, files, 20)  # warm-up: first-use allocations
            time.sleep(1.0)  # the closed warm-up channels leave the hub
            result = _step(node, pid, port, files, size)
            results[size] = result
            log(f"{size} channels: {result['kib_per_channel']:.1f} KiB each, request "
                f"median {result['request_ms_median']:.1f} ms max "
                f"{result['request_ms_max']:.1f} ms, idle CPU "
                f"{result['idle_cpu_fraction'] * 100:.0f}%")
            node.call(0, nodeproc.stop, timeout=120)
        finally:
            node.close()
        rows.append(Row(f"Memory per idle channel, {size:,} open", results[size]["kib_per_channel"],
                        "KiB", None, "-", target=f"<= {TARGET_KIB} KiB",
                        met=results[size]["kib_per_channel"] <= TARGET_KIB,
                        note=f"node RSS {results[size]['rss_before_mib']:.0f} -> "
                             f"{results[size]['rss_after_mib']:.0f} MiB",
                        details=results[size]))
        idle = results[size]["idle_cpu_fraction"] * 100
        rows.append(Row(f"Node CPU with {size:,} idle channels open", idle, "% of a core", None,
                        "-", target=f"< {TARGET_IDLE_CPU * 100:g}%",
                        met=idle < TARGET_IDLE_CPU * 100,
                        note=f"over {IDLE_SECONDS:g} s with nothing published",
                        details=results[size]))
        rows.append(Row(f"Request latency (max of 20) with {size:,} channels open",
                        results[size]["request_ms_max"], "ms", None, "-",
                        target=f"< {TARGET_MS:g} ms",
                        met=results[size]["request_ms_max"] < TARGET_MS,
                        note=f"median {results[size]['request_ms_median']:.1f} ms; new "
                             f"connection + request median "
                             f"{results[size]['new_connection_request_ms_median']:.1f} ms; "
                             f"idle node CPU {results[size]['idle_cpu_fraction'] * 100:.0f}%"))
    return rows

"""Benchmark 1: server CPU per 1,000 mutual-TLS handshakes, xsp against ``openssl s_server``.

Server under test: the node (``bench.nodeproc``) on a state configured by the engine with
the guide's procedure: interface 127.0.0.1 offers TLS 1.2 with
ECDHE-RSA-AES128-GCM-SHA256 only, 127.0.0.2 TLS 1.3 with TLS_AES_128_GCM_SHA256 only;
RSA-2048 server key with its chain, client certificate required and verified against
the two Webex anchors (partial chains allowed, as the node does). Baseline: ``openssl
s_server`` with the same certificate, key, chain, anchors, protocol and suite.

Load: two client processes (as many as there are cores), each handshaking in turn as
Webex would: verify the server, present the RSA-2048 client certificate, for TLS 1.3 read
the session tickets, send close_notify, close. Full handshakes offer no session;
resumption offers the session (ticket) of the previous connection. Only the server
process's CPU is measured (its POSIX CPU clock, before and after a batch), so a client
that is slower than the server changes the wall time, not the figure.

A third server is measured beside them, for the diagnosis only: asyncio's own TLS
(``loop.create_server(ssl=...)``) with a protocol that does nothing, on the SSLContext the
node builds, in its own process, on the same event loop as the node (uvloop where it is
installed). It is what an ordinary asyncio TLS server pays on this machine.
"""
from __future__ import annotations

import select
import socket
import ssl
import subprocess
import time
from pathlib import Path
from typing import Any

from bench.common import Row, Workers, cpu_seconds, log, median
from bench.state import HOST12, HOST13, NodeState, free_port, node_state

CIPHER12 = "ECDHE-RSA-AES128-GCM-SHA256"
SUITE13 = "TLS_AES_128_GCM_SHA256"
# Issue 15: the listener's server CPU beside openssl s_server's for the same handshake.
TARGET_RATIO = {False: 1.15, True: 1.35}  # full, resumed
CLIENTS = 2

# --- the client side (runs in the client worker processes) --------------------------------

_contexts: dict[tuple[str, str], ssl.SSLContext] = {}
_sessions: dict[tuple[str, int], ssl.SSLSession | None] = {}


def _context(files: dict[str, str], version: str) -> ssl.SSLContext:
    key = (files["cert"], version)
    if key not in _contexts:
        from xsp.webex.client import tls_context
        context = tls_context(files["cert"], files["key"], files["ca"])
        pinned = ssl.TLSVersion.TLSv1_2 if version == "1.2" else ssl.TLSVersion.TLSv1_3
        context.minimum_version = context.maximum_version = pinned
        _contexts[key] = context
    return _contexts[key]


def _handshake(context: ssl.SSLContext, host: str, port: int,
               session: ssl.SSLSession | None, tls13: bool) -> tuple[ssl.SSLSession | None, bool]:
    raw = socket.create_connection((host, port), timeout=10)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    tls = context.wrap_socket(raw, server_hostname=host, session=session)
    try:
        tls.setblocking(False)
        if tls13:
            # TLS 1.3 tickets come after the handshake; reading processes them.
            select.select([tls], [], [], 2.0)
            try:
                tls.recv(1)
            except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
                pass
        reused, got = tls.session_reused, tls.session
        try:
            # close_notify: a session whose connection ended without one is not resumable.
            tls.unwrap()
        except (ssl.SSLError, OSError):
            pass
    finally:
        tls.close()
    return got, bool(reused)


def client_batch(host: str, port: int, version: str, count: int, resume: bool,
                 files: dict[str, str]) -> dict[str, Any]:
    """``count`` handshakes in turn; with ``resume`` each offers the last session."""
    context = _context(files, version)
    key = (host, port)
    resumed = 0
    started = time.perf_counter()
    for _ in range(count):
        session = _sessions.get(key) if resume else None
        got, reused = _handshake(context, host, port, session, version == "1.3")
        resumed += reused
        if resume:
            _sessions[key] = got
    return {"count": count, "resumed": resumed, "seconds": time.perf_counter() - started}


def client_prime(host: str, port: int, version: str, files: dict[str, str]) -> bool:
    """One full handshake whose session the next resumed batch starts from."""
    got, _ = _handshake(_context(files, version), host, port, None, version == "1.3")
    _sessions[(host, port)] = got
    return got is not None


# --- the servers --------------------------------------------------------------------------

def start_s_server(state: NodeState, version: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port(HOST12)
    pki = state.pki
    args = ["openssl", "s_server", "-accept", f"{HOST12}:{port}", "-quiet",
            "-cert", str(pki.server_cert), "-key", str(pki.server_key),
            "-cert_chain", str(pki.server_chain),
            "-Verify", "1", "-partial_chain", "-CAfile", str(state.anchors)]
    if version == "1.2":
        args += ["-tls1_2", "-cipher", CIPHER12]
    else:
        args += ["-tls1_3", "-ciphersuites", SUITE13]
    server = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection((HOST12, port), timeout=1).close()
            return server, port
        except OSError:
            time.sleep(0.05)
    server.kill()
    raise RuntimeError("openssl s_server did not start listening")


# --- the Python floor (runs in a worker process of its own) -------------------------------

_floor: dict[str, Any] = {}


def floor_start(state_dir: str, ip: str) -> dict[str, Any]:
    """asyncio's own TLS server, with a protocol that does nothing, on the SSLContext the
    node builds for interface ``ip``: what any asyncio server pays per connection before
    its own work (a third figure beside the two compared, to tell where a gap comes from)."""
    import asyncio
    import os

    from bench.common import LoopThread
    from xsp.config.store import Store
    from xsp.tls.context import build_server_context
    from xsp.tls.credentials import ServerCredentials
    from xsp.tls.effective import plan_for

    store = Store(state_dir)
    settings = store.load().node("xsp1").xsp
    assert settings is not None
    server = settings.cti_server(ip)
    assert server is not None and server.certificate is not None
    certificate = server.certificate
    credentials = ServerCredentials.from_pem(
        certificate.cert_pem, store.resolve(certificate.key_file), certificate.chain_pem)
    context = build_server_context(
        plan_for(settings, server), credentials,
        trust_anchor_pems=[t.cert_pem.encode() for t in settings.trusts],
        require_client_cert=True)
    port = free_port(HOST12)

    class Idle(asyncio.Protocol):
        def eof_received(self) -> bool:
            return False  # close, as the node does when the client goes

    async def serve() -> Any:
        return await asyncio.get_running_loop().create_server(Idle, HOST12, port, ssl=context,
                                                              backlog=1024)

    loop = LoopThread("bench-floor")
    _floor.update(loop=loop, server=loop.run(serve()))
    return {"pid": os.getpid(), "port": port}


def floor_stop() -> None:
    async def stop() -> None:
        _floor["server"].close()
    _floor["loop"].run(stop())
    _floor["loop"].close()


# --- orchestration ----------------------------------------------------------------------

def _measure(clients: Workers, pid: int, host: str, port: int, version: str, count: int,
             resume: bool, files: dict[str, str]) -> dict[str, Any]:
    if resume:
        clients.call_all(client_prime, [dict(host=host, port=port, version=version,
                                             files=files)] * CLIENTS)
    share = [count // CLIENTS + (1 if i < count % CLIENTS else 0) for i in range(CLIENTS)]
    before = cpu_seconds(pid)
    wall = time.perf_counter()
    results = clients.call_all(client_batch, [dict(host=host, port=port, version=version,
                                                   count=n, resume=resume, files=files)
                                              for n in share])
    wall = time.perf_counter() - wall
    cpu = cpu_seconds(pid) - before
    done = sum(r["count"] for r in results)
    resumed = sum(r["resumed"] for r in results)
    return {"cpu_s_per_1000": cpu / done * 1000, "handshakes": done, "resumed": resumed,
            "wall_s": wall, "handshakes_per_s": done / wall}


def run(work: Path, *, runs: int = 5, count: int = 200) -> list[Row]:
    state = node_state(work / "handshake")
    files = {"cert": str(state.pki.webex_client_cert), "key": str(state.pki.webex_client_key),
             "ca": str(state.pki.partner_ca)}
    rows: list[Row] = []
    node = Workers(1)
    clients = Workers(CLIENTS)
    try:
        from bench import nodeproc
        info = node.call(0, nodeproc.start, state_dir=str(state.dir))
        node_pid, ports = info["pid"], info["ports"]
        xsp_where = {"1.2": (HOST12, ports[HOST12]), "1.3": (HOST13, ports[HOST13])}
        for version in ("1.2", "1.3"):
            server, s_port = start_s_server(state, version)
            floor = Workers(1)
            try:
                floor_info = floor.call(0, floor_start, state_dir=str(state.dir),
                                        ip=xsp_where[version][0])
                servers = {"xsp": (node_pid, *xsp_where[version]),
                           "s_server": (server.pid, HOST12, s_port),
                           "asyncio_floor": (floor_info["pid"], HOST12, floor_info["port"])}
                for resume in (False, True):
                    label = f"TLS {version} {'resumed' if resume else 'full'} handshake"
                    measured: dict[str, list[dict[str, Any]]] = {name: [] for name in servers}
                    for pid, host, port in servers.values():
                        # Warm-up: first connections pay for lazy loading on either side.
                        _measure(clients, pid, host, port, version, 20, resume, files)
                    for _ in range(runs):  # interleaved, so drift hits all alike
                        for name, (pid, host, port) in servers.items():
                            measured[name].append(_measure(clients, pid, host, port, version,
                                                           count, resume, files))
                    medians = {name: median(r["cpu_s_per_1000"] for r in runs_)
                               for name, runs_ in measured.items()}
                    figure, baseline = medians["xsp"], medians["s_server"]
                    bad = [r for runs_ in measured.values() for r in runs_
                           if r["resumed"] != (r["handshakes"] if resume else 0)]
                    note = (f"{runs} runs x {count} handshakes, {CLIENTS} client processes; "
                            f"asyncio's own TLS doing nothing else on the node's SSLContext: "
                            f"{medians['asyncio_floor']:.3f} s "
                            f"({medians['asyncio_floor'] / baseline:.2f}x)")
                    if bad:
                        note += "; WARNING: some handshakes did not resume as asked"
                    rows.append(Row(
                        f"mTLS {label}: server CPU per 1,000", figure, "s",
                        baseline, "openssl s_server",
                        target=f"<= {TARGET_RATIO[resume]}x baseline",
                        met=figure <= TARGET_RATIO[resume] * baseline, note=note,
                        details={**measured, "medians": medians}))
                    log(f"{label}: xsp {figure:.3f} s, s_server {baseline:.3f} s, asyncio floor "
                        f"{medians['asyncio_floor']:.3f} s per 1,000 ({figure / baseline:.2f}x)")
            finally:
                try:
                    floor.call(0, floor_stop)
                finally:
                    floor.close()
                server.terminate()
                server.wait(10)
        node.call(0, nodeproc.stop)
    finally:
        clients.close()
        node.close()
    return rows

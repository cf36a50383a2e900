"""Benchmark 5: the state store and the node's start with 1,000 anchors and 100 interfaces.

State: ``bench.state.shell_state`` (100 CTI interfaces added through the engine, each
with its self-signed certificate, and 1,000 RSA CA trust anchors), the same as the shell
benchmark's.

- Saved changes: ``Store.edit()`` in-process, median of repeated runs, each a whole
  save (lock, copy, check, write, fsync, rename): a setting outside the sections
  (``allowClientApp``), and one trust anchor replaced, which rewrites the section of
  1,000 anchors. Baseline: the same save on a fresh state.
- A state written before sections (one ``config.yaml`` with every PEM inside, as the
  previous store wrote it): a fresh ``Store``'s first ``load()`` and its first save,
  which converts it; once, cold. Baseline: the first ``load()`` of the converted state.
- Node start: ``NodeThread(Store(DIR)).start()`` in a spawned process, until every one
  of the 100 listeners is up, each with its ``SSLContext``; wall time and the process's
  CPU; once with the anchors' capath directory removed before each start (the first
  start after an anchor change writes it), once with it kept (any other restart). Baseline: the same start with every anchor inserted into every
  ``SSLContext``, the node's way when a capath directory cannot be built (forced in
  that process by making ``xsp.tls.capath.available`` say so), measured once since it
  takes about 15 s.
"""
from __future__ import annotations

import shutil
import socket
import time
from pathlib import Path
from typing import Any, Callable

import yaml

from bench.common import Row, Workers, log, median
from bench.state import shell_state

TARGET_SAVE_MS = 5.0
TARGET_START_S = 2.0


def _save_times(state_dir: Path, change: Callable[[Any], None],
                repeat: int) -> tuple[list[float], list[float]]:
    """Wall and CPU milliseconds of each save; the wall time includes waiting for the
    disk (fsync), which on a shared machine varies with everyone else's writes."""
    from xsp.config.store import Store
    store = Store(state_dir)
    store.load()
    with store.edit() as deployment:  # the first edit pays for lazy imports and the sweep
        change(deployment)
    walls, cpus = [], []
    for _ in range(repeat):
        cpu, started = time.process_time(), time.perf_counter()
        with store.edit() as deployment:
            change(deployment)
        walls.append((time.perf_counter() - started) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
    return walls, cpus


def _toggle(deployment: Any) -> None:
    xsp = deployment.node("xsp1").xsp_settings
    xsp.allow_client_app = not xsp.allow_client_app


# Two distinct anchor certificates that the replaced anchor alternates between.
_PEMS: list[str] = []


def _replace_anchor(deployment: Any) -> None:
    from xsp.config.model import TrustAnchor
    trusts = deployment.node("xsp1").xsp_settings.trusts
    if not trusts:
        trusts.append(TrustAnchor("benchreplaced", _PEMS[0]))
        return
    pem = _PEMS[1] if trusts[0].cert_pem == _PEMS[0] else _PEMS[0]
    trusts[0] = TrustAnchor(trusts[0].alias, pem)


def _legacy(state_dir: Path, target: Path) -> tuple[float, float]:
    """The state rewritten as the previous store wrote it; its first load and save (ms)."""
    from xsp.config.model import to_data
    from xsp.config.store import HEADER, Store
    deployment = Store(state_dir).load()
    target.mkdir(mode=0o700, parents=True)
    shutil.copytree(state_dir / "private", target / "private")
    body = yaml.dump(to_data(deployment), Dumper=yaml.CSafeDumper, sort_keys=False,
                     default_flow_style=False, allow_unicode=True)
    (target / "config.yaml").write_text(HEADER + body)
    store = Store(target)
    started = time.perf_counter()
    loaded = store.load()
    loaded_at = time.perf_counter()
    with store.edit():
        pass
    saved_at = time.perf_counter()
    if to_data(Store(target).load()) != to_data(loaded):
        raise RuntimeError("the converted state differs from the one-file state")
    return (loaded_at - started) * 1000, (saved_at - loaded_at) * 1000


def node_start(state_dir: str, insert_anchors: bool = False, keep_anchors: bool = False) -> dict[str, Any]:
    """In a worker: one node start on ``state_dir``; wall and CPU seconds, then stop.
    ``keep_anchors``: the capath directory of an earlier start is there, as on a restart
    after changes other than to the anchors."""
    import logging
    # One warning per interface (its address is mapped into loopback) is not news here.
    logging.getLogger("xsp").setLevel(logging.ERROR)
    from xsp.config.store import Store
    from xsp.node.background import NodeThread
    from xsp.tls import capath
    if insert_anchors:
        capath.available = lambda: "forced by the benchmark baseline"
    if not keep_anchors:
        shutil.rmtree(Path(state_dir) / "anchors", ignore_errors=True)
    cpu, wall = time.process_time(), time.perf_counter()
    node = NodeThread(Store(Path(state_dir))).start()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    try:
        problems = [l.problem for r in node.host.nodes.values() for l in r.listeners.values()
                    if l.site is None]
        listening = sum(1 for r in node.host.nodes.values() for l in r.listeners.values()
                        if l.site is not None)
    finally:
        node.stop()
    if problems:
        raise RuntimeError(f"{len(problems)} listener(s) not listening: {problems[0]}")
    return {"wall_s": wall, "cpu_s": cpu, "listeners": listening}


def _free_port_everywhere(hosts: list[str]) -> int:
    """A port free on every one of ``hosts`` (the loopback addresses the node binds)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind((hosts[0], 0))
            port = probe.getsockname()[1]
        try:
            for host in hosts:
                with socket.socket() as probe:
                    probe.bind((host, port))
            return port
        except OSError:
            continue
    raise RuntimeError("no port free on every interface address")


def run(work: Path, *, repeat: int = 20, starts: int = 3) -> list[Row]:
    from xsp.config.store import Store
    from xsp.node.addresses import bind_address
    built = shell_state(work / "store")
    fresh = work / "store-fresh" / "state"
    Store(fresh).load()
    setup = f"{built.anchors} anchors, {built.interfaces} interfaces"
    _PEMS[:] = [t.cert_pem for t in Store(built.dir).load().node("xsp1").xsp_settings.trusts[:2]]
    rows: list[Row] = []
    for label, change in (("a setting outside the sections (allowClientApp)", _toggle),
                          ("one trust anchor replaced", _replace_anchor)):
        times, cpus = _save_times(built.dir, change, repeat)
        base, base_cpus = _save_times(fresh, change, repeat)
        figure = median(times)
        rows.append(Row(f"Saved change, {label} ({setup})", figure, "ms", median(base), "fresh state",
                        target=f"<= {TARGET_SAVE_MS:g} ms", met=figure <= TARGET_SAVE_MS,
                        note=f"Store.edit() in-process, median of {repeat}, fsyncs included; "
                             f"CPU {median(cpus):.2f} ms (fresh state {median(base_cpus):.2f} ms)",
                        details={"runs_ms": times, "baseline_runs_ms": base, "cpu_ms": cpus,
                                 "baseline_cpu_ms": base_cpus}))
        log(f"save, {label}: {figure:.2f} ms, CPU {median(cpus):.2f} ms (fresh {median(base):.2f} ms)")

    load_ms, convert_ms = _legacy(built.dir, work / "store-legacy" / "state")
    started = time.perf_counter()
    Store(built.dir).load()
    cold_ms = (time.perf_counter() - started) * 1000
    rows.append(Row(f"First load of a one-file state ({setup})", load_ms, "ms", cold_ms,
                    "first load, in sections", note="once, cold; the PEMs inside config.yaml"))
    rows.append(Row(f"Its first save, converting it to sections ({setup})", convert_ms, "ms",
                    note="once; writes the section and certificate files, then the root"))
    log(f"one-file state: load {load_ms:.0f} ms, converting save {convert_ms:.0f} ms")

    with Store(built.dir).edit() as deployment:
        servers = deployment.node("xsp1").xsp_settings.cti_servers
        port = _free_port_everywhere([bind_address(s.ip)[0] for s in servers])
        for server in servers:
            server.port = port
        deployment.node("xsp1").pending_restart.clear()
    with Workers(1) as node:
        built_runs = [node.call(0, node_start, state_dir=str(built.dir)) for _ in range(starts)]
        kept_runs = [node.call(0, node_start, state_dir=str(built.dir), keep_anchors=True)
                     for _ in range(starts)]
    with Workers(1) as node:  # a process of its own: the baseline disables capath in it
        baseline = node.call(0, node_start, state_dir=str(built.dir), insert_anchors=True,
                             timeout=900)
    for label, runs in (("the anchors' directory written", built_runs),
                        ("the anchors' directory already there", kept_runs)):
        figure = median(r["wall_s"] for r in runs)
        rows.append(Row(f"Node start, {built.interfaces} interfaces x {built.anchors} anchors, {label}",
                        figure, "s", baseline["wall_s"], "every anchor inserted into every SSLContext",
                        target=f"< {TARGET_START_S:g} s", met=figure < TARGET_START_S,
                        note=f"NodeThread.start() until every listener is up, median of {starts}; "
                             f"CPU {median(r['cpu_s'] for r in runs):.2f} s (baseline CPU "
                             f"{baseline['cpu_s']:.1f} s)",
                        details={"runs": runs, "baseline": baseline}))
        log(f"node start, {label}: {figure:.2f} s (anchors inserted: {baseline['wall_s']:.1f} s)")
    return rows

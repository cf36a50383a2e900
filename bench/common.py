"""What every benchmark shares: process CPU and memory, statistics, rows, worker processes.

CPU is read from outside the measured process through its POSIX CPU clock
(``clock_getcpuclockid``): nanosecond resolution, every thread counted (even those that
ended), and nothing done inside the process to read it. ``/proc/PID/stat`` counts in
10 ms ticks, too coarse for a 200-handshake batch, and schedstat is off on this kernel.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing
import multiprocessing.connection
import os
import platform
import resource
import ssl
import statistics
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from xsp.node.loop import LoopThread as _LoopThread

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far."""
    clock = ctypes.c_int()
    if _libc.clock_getcpuclockid(pid, ctypes.byref(clock)) == 0:
        try:
            return time.clock_gettime(clock.value)
        except OSError:
            pass
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def raise_nofile() -> int:
    """Soft RLIMIT_NOFILE up to the hard limit; the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100): an observed value, never an interpolation."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as info:
            model = next((line.split(":", 1)[1].strip() for line in info
                          if line.startswith("model name")), model)
    except OSError:
        pass
    try:
        cli = subprocess.run(["openssl", "version"], capture_output=True, text=True,
                             timeout=10).stdout.strip()
    except OSError:
        cli = "not found"
    with open("/proc/meminfo") as meminfo:
        total_kib = int(meminfo.readline().split()[1])
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(total_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "python_openssl": ssl.OPENSSL_VERSION,
        "openssl_cli": cli,
        "nofile_hard": resource.getrlimit(resource.RLIMIT_NOFILE)[1],
    }


@dataclass
class Row:
    """One line of the results table; ``details`` holds every run for the JSON."""

    benchmark: str
    figure: float | None
    unit: str
    baseline: float | None = None
    baseline_label: str = ""
    target: str = ""
    met: bool | None = None
    # "lower" when less is better (CPU, latency, memory): the ratio is figure / baseline
    # either way, and the target text says which side of it is wanted.
    better: str = "lower"
    note: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.figure is None or not self.baseline:
            return None
        return self.figure / self.baseline

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ratio"] = self.ratio
        return data


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit in ("ms", "s", "µs"):
        return f"{value:.3g} {unit}" if value < 100 else f"{value:.0f} {unit}"
    if unit == "KiB":
        return f"{value:.1f} {unit}"
    if abs(value) >= 1000:
        return f"{value:,.0f} {unit}".strip()
    return f"{value:.3g} {unit}".strip()


def table(rows: Sequence[Row]) -> str:
    header = ("benchmark", "figure", "baseline", "ratio", "target", "met?")
    lines = [header]
    for row in rows:
        base = fmt(row.baseline, row.unit)
        if row.baseline_label and row.baseline is not None:
            base = f"{base} ({row.baseline_label})"
        elif row.baseline is None:
            base = row.baseline_label or "-"
        ratio = f"{row.ratio:.2f}x" if row.ratio is not None else "-"
        met = {True: "yes", False: "NO", None: "-"}[row.met]
        lines.append((row.benchmark, fmt(row.figure, row.unit), base, ratio, row.target, met))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for n, line in enumerate(lines):
        out.append("| " + " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)) + " |")
        if n == 0:
            out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)


# --- persistent worker processes ------------------------------------------------------

def _worker_loop(conn: multiprocessing.connection.Connection) -> None:
    """Run ``(module, function, kwargs)`` requests until told to stop; a worker keeps its
    module-level state between requests (e.g. a TLS session to resume)."""
    import importlib
    while True:
        request = conn.recv()
        if request is None:
            return
        module, function, kwargs = request
        try:
            result = getattr(importlib.import_module(module), function)(**kwargs)
            conn.send(("ok", result))
        except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises
            conn.send(("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))


class Workers:
    """``count`` spawned processes that run bench functions on request, all at once.

    Spawned, not forked: each starts clean, with no copy of the parent's loops, sockets
    or memory, which also keeps the node's RSS honest when the node is one of them.
    """

    def __init__(self, count: int) -> None:
        context = multiprocessing.get_context("spawn")
        self._conns: list[multiprocessing.connection.Connection] = []
        self.processes: list[multiprocessing.process.BaseProcess] = []
        for _ in range(count):
            parent, child = context.Pipe()
            process = context.Process(target=_worker_loop, args=(child,), daemon=True)
            process.start()
            child.close()
            self._conns.append(parent)
            self.processes.append(process)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes if p.pid is not None]

    def send(self, index: int, function: Callable[..., Any], **kwargs: Any) -> None:
        self._conns[index].send((function.__module__, function.__name__, kwargs))

    def receive(self, index: int, timeout: float | None = 600) -> Any:
        conn = self._conns[index]
        try:
            if timeout is not None and not conn.poll(timeout):
                raise TimeoutError(f"bench worker {index} did not answer in {timeout:g} s")
            status, value = conn.recv()
        except (EOFError, ConnectionError) as exc:
            code = self.processes[index].exitcode
            raise RuntimeError(f"bench worker {index} died (exit code {code})") from exc
        if status != "ok":
            raise RuntimeError(f"bench worker {index} failed: {value}")
        return value

    def call(self, index: int, function: Callable[..., Any], timeout: float | None = 600,
             **kwargs: Any) -> Any:
        self.send(index, function, **kwargs)
        return self.receive(index, timeout)

    def call_all(self, function: Callable[..., Any], kwargs: Sequence[dict[str, Any]],
                 timeout: float | None = 600) -> list[Any]:
        """The same function in every worker at once, each with its own arguments."""
        for index, each in enumerate(kwargs):
            self.send(index, function, **each)
        return [self.receive(index, timeout) for index in range(len(kwargs))]

    def close(self) -> None:
        for conn in self._conns:
            try:
                conn.send(None)
            except (BrokenPipeError, OSError):
                pass
        for process in self.processes:
            process.join(10)
            if process.is_alive():
                process.kill()  # only our own child, by its handle
                process.join(5)

    def __enter__(self) -> "Workers":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


class LoopThread(_LoopThread):
    """The node's loop-in-a-thread, with a benchmark's patience (10 minutes a batch)."""

    def __init__(self, name: str) -> None:
        super().__init__(name, timeout=600)

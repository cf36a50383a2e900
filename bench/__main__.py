"""``python -m bench``: run the benchmarks, print the table, write bench/results/latest.json.

    python -m bench                       # everything (about 4 minutes on 2 cores)
    python -m bench --only handshake,shell
    python -m bench --quick               # smaller counts, to check the harness works

Each benchmark builds its own state in a temporary directory through the CLI engine,
runs the node in a process of its own and its load in others, and measures each figure
beside its baseline in the same run (see each module's docstring for the method).
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Callable

from bench.common import Row, log, machine, raise_nofile, table

RESULTS = Path(__file__).parent / "results"


def _benchmarks(quick: bool) -> dict[str, Callable[[Path], list[Row]]]:
    from bench import events, fanout, handshake, scale, shell, store, xsievents
    if quick:
        return {
            "handshake": lambda w: handshake.run(w, runs=2, count=60),
            "events": lambda w: events.run(w, runs=1, burst_calls=60, paced_seconds=1.0),
            "xsievents": lambda w: xsievents.run(w, runs=1, burst_calls=60, paced_seconds=1.0),
            "scale": lambda w: scale.run(w, sizes=(300,)),
            "shell": lambda w: shell.run(w, startup_runs=3, repeat=5),
            "store": lambda w: store.run(w, repeat=5, starts=1),
            "fanout": lambda w: fanout.run(w, runs=1, subscriptions=2000),
        }
    return {
        "handshake": lambda w: handshake.run(w, runs=5, count=200),
        "events": lambda w: events.run(w, runs=3, burst_calls=300, paced_seconds=3.0),
        "xsievents": lambda w: xsievents.run(w, runs=3, burst_calls=300, paced_seconds=3.0),
        "scale": lambda w: scale.run(w, sizes=(1000, 10000)),
        "shell": lambda w: shell.run(w, startup_runs=7, repeat=20),
        "store": lambda w: store.run(w, repeat=20, starts=3),
        "fanout": lambda w: fanout.run(w, runs=3),
    }


def _revision() -> dict[str, Any]:
    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                                  timeout=10).stdout
        except OSError:
            return ""
    # The checkout is shared: record what the figures were measured on, including files
    # others had changed and not yet committed. Porcelain lines are "XY path".
    changed = [line[3:] for line in git("status", "--porcelain").splitlines()
               if line[3:] and not line[3:].startswith("bench/")]
    return {"commit": git("rev-parse", "--short", "HEAD").strip(),
            "changed_outside_bench": changed}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help="comma-separated: handshake,events,xsievents,scale,shell,store,fanout")
    parser.add_argument("--quick", action="store_true", help="small counts (harness check)")
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.json",
                        help="where to write the JSON (default bench/results/latest.json)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary states")
    args = parser.parse_args(argv)

    benchmarks = _benchmarks(args.quick)
    chosen = args.only.split(",") if args.only else list(benchmarks)
    unknown = [name for name in chosen if name not in benchmarks]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; known: {', '.join(benchmarks)}")
    raise_nofile()
    info = machine()
    log(f"machine: {info}")
    # Others commit to this checkout while we run: note the revision at both ends.
    revision_at_start = _revision()
    work = Path(tempfile.mkdtemp(prefix="xsp-bench-"))
    rows: list[Row] = []
    runs: dict[str, Any] = {}
    started = time.perf_counter()
    try:
        for name in chosen:
            log(f"--- {name}")
            began = time.perf_counter()
            try:
                produced = benchmarks[name](work)
                rows += produced
                runs[name] = {"seconds": time.perf_counter() - began, "rows": len(produced)}
            except Exception as exc:  # one broken benchmark must not hide the others
                traceback.print_exc()
                runs[name] = {"seconds": time.perf_counter() - began,
                              "error": f"{type(exc).__name__}: {exc}"}
    finally:
        if args.keep:
            log(f"states kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    total = time.perf_counter() - started

    revision = _revision()
    if revision != revision_at_start:
        print(f"WARNING: the checkout changed during the run ({revision_at_start} -> "
              f"{revision}); figures may mix both", file=sys.stderr)
    text = table(rows)
    notes = "\n".join(f"- {row.benchmark}: {row.note}" for row in rows if row.note)
    print(text)
    print()
    print(notes)
    print()
    print(f"Machine: {info['nproc']} CPUs ({info['cpu_model']}), {info['memory_gib']} GiB, "
          f"Linux {info['kernel']}; Python {info['python']} ({info['python_openssl']}); "
          f"openssl CLI for s_server: {info['openssl_cli']}; RLIMIT_NOFILE hard "
          f"{info['nofile_hard']}.")
    print(f"Total run time: {total:.0f} s.")
    for name, run in runs.items():
        if "error" in run:
            print(f"{name}: FAILED: {run['error']}")
    if args.quick:
        log("--quick: not writing results")
        return 1 if any("error" in r for r in runs.values()) else 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    document = {"generated": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": info,
                "revision": revision, "revision_at_start": revision_at_start,
                "seconds": total, "benchmarks": runs,
                "table": text, "notes": notes, "rows": [row.as_dict() for row in rows]}
    args.out.write_text(json.dumps(document, indent=1, default=str) + "\n")
    log(f"wrote {args.out}")
    return 1 if any("error" in r for r in runs.values()) else 0


if __name__ == "__main__":
    sys.exit(main())

"""``xsp shell``: the BroadWorks CLI of an emulated node."""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from xsp.cli.engine import Engine
from xsp.cli.session import run_interactive, run_script
from xsp.config.store import ConfigFileError, Store, default_state_dir
from xsp.live import service as live_page
from xsp.live.address import LivePageError
from xsp.node.control import NodeAlreadyRunning, node_running
from xsp.node.managed import ManagedNodeControl

if TYPE_CHECKING:
    from xsp.cli.cucm_engine import CucmEngine
    from xsp.cli.transcript import Recorder


def add_state_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state", type=Path, default=None, metavar="DIR",
                        help="state directory (default: $XSP_STATE, else the XDG state directory)")


def open_store(args: argparse.Namespace) -> Store:
    """The state named by --state; read-only use creates nothing (the first save does)."""
    return Store(args.state or default_state_dir(), create=False)


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "shell", help="the BroadWorks CLI (XSP_CLI, ADP_CLI, AS_CLI) of an emulated node",
        description="The BroadWorks command line of an emulated node. Interactive on a terminal; "
                    "with -c, or with lines piped in, prints a transcript and exits 0 only when "
                    "every command succeeded.")
    add_state_argument(parser)
    parser.add_argument("--node", help="node to open (default: the first XSP or ADP node)")
    parser.add_argument("-c", dest="commands", action="append", metavar="LINE",
                        help="run this line (repeatable) and exit")
    parser.add_argument("--plain", action="store_true",
                        help="on a terminal, a plain prompt for expect scripts: the literal "
                             "prompt text, no completion, no escape codes (also when TERM=dumb)")
    parser.add_argument("--record", type=Path, metavar="FILE",
                        help="record the session's commands and answers to FILE (a method of "
                             "procedure for xsp replay)")
    live_page.add_arguments(parser)
    parser.set_defaults(run=run)


def log_to_state(store: Store) -> None:
    """The node's and the shell's log lines go to ``xsp.log`` in the state, not the terminal."""
    from xsp.statelog import StateLogHandler
    path = os.path.abspath(store.dir / "xsp.log")
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    # Idempotent: a second call (demo, then its shell) must not write every line twice.
    if any(isinstance(h, logging.FileHandler) and h.baseFilename == path for h in root.handlers):
        return
    handler = StateLogHandler(Path(path))
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    root.addHandler(handler)


def make_engine(store: Store, node: str | None, control: ManagedNodeControl,
                recorder: "Recorder | None" = None) -> "Engine | CucmEngine":
    """The BroadWorks engine, or the CUCM one for a CUCM node (its CLI is another world)."""
    if node is not None:
        try:
            kind = store.load().node(node).kind
        except KeyError:
            kind = None
        if kind == "CUCM":
            from xsp.cli.cucm_engine import CucmEngine
            return CucmEngine(store, node, control, recorder=recorder)
    return Engine(store, node, control, recorder=recorder)


def run(args: argparse.Namespace) -> int:
    store = open_store(args)
    try:
        log_to_state(store)
        recorder = None
        if args.record:
            from xsp.cli.transcript import Recorder
            recorder = Recorder(args.record, store.dir, node=args.node)
        interactive = not args.commands and sys.stdin.isatty()
        # On a terminal the node runs while the shell is open, as on a real XSP, with
        # its live page; a script starts it only when it restarts it.
        live = (live_page.from_arguments(args)
                if interactive and not node_running(store.dir) else None)
        control = ManagedNodeControl(store, live=live)
        engine = make_engine(store, args.node, control, recorder)
        if live is not None:
            print(f"Live page (read-only): {live.url}")
    except (ConfigFileError, ValueError, NodeAlreadyRunning, LivePageError) as exc:
        print(f"xsp: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"xsp: cannot use the state directory {store.dir}: {exc.strerror}", file=sys.stderr)
        return 1
    try:
        if args.commands:
            return run_script(engine, args.commands, sys.stdout)
        if not sys.stdin.isatty():
            return run_script(engine, sys.stdin, sys.stdout)
        return run_interactive(engine, store.dir / "history", plain=args.plain,
                               first_prompt=control.start_in_background)
    finally:
        if engine.recorder is not None:
            engine.recorder.close()
        close = getattr(engine.control, "close", None)
        if close is not None:
            close()  # an in-process node ends with the shell

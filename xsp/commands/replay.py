"""``xsp replay``: run a recorded transcript against a node and report what differs."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from xsp.commands.shell import add_state_argument, log_to_state, open_store
from xsp.config.model import ModelError
from xsp.config.store import ConfigFileError


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "replay", help="replay a recorded transcript and report every answer that differs",
        description="Runs each command of a transcript (from xsp shell --record, emu record or "
                    "xsp demo) in the CLI its prompt names, and reports every answer that differs "
                    "from the recorded one. Exit status 0 when none differs.")
    parser.add_argument("file", type=Path, metavar="FILE",
                        help="the transcript: prompts with their commands, each followed by "
                             "its recorded answer")
    add_state_argument(parser)
    parser.add_argument("--node", help="XSP or ADP node for XSP_CLI/ADP_CLI lines (default: the first)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from xsp.cli.engine import Engine
    from xsp.cli.transcript import TranscriptError, parse, replay
    from xsp.node.managed import ManagedNodeControl

    try:
        entries = parse(args.file.read_text(encoding="utf-8"))
    except OSError as exc:
        print(f"xsp: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    except (TranscriptError, UnicodeDecodeError) as exc:
        print(f"xsp: {args.file}: {exc}", file=sys.stderr)
        return 2
    store = open_store(args)
    try:
        log_to_state(store)
        deployment = store.load()
        xsp_node = args.node or deployment.first_cti_node().name
    except (ConfigFileError, ModelError) as exc:
        print(f"xsp: {exc}", file=sys.stderr)
        return 2
    control = ManagedNodeControl(store)
    try:
        engine = Engine(store, xsp_node, control)
        engines = {"AS": Engine(store, deployment.application_server.name, control),
                   "XSP": engine, "ADP": engine}
        differences = replay(entries, engines)
    except (TranscriptError, ValueError) as exc:
        print(f"xsp: {exc}", file=sys.stderr)
        return 2
    finally:
        control.close()
    for difference in differences:
        print("\n".join(difference.render()))
    if differences:
        print(f"{len(differences)} of {len(entries)} answers differ from {args.file}.")
        return 1
    print(f"Replayed {len(entries)} commands from {args.file}: every answer as recorded.")
    return 0

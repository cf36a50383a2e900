"""``xsp replay``: run a recorded transcript against a node and report what differs."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from xsp.commands.shell import add_state_argument, log_to_state, open_store
from xsp.config.model import Deployment, ModelError
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
    parser.add_argument("--node", help="XSP or ADP node for XSP_CLI/ADP_CLI lines, or CUCM node for "
                                       "admin: lines (default: the first of each kind)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from xsp.cli.cucm_engine import CucmEngine
    from xsp.cli.engine import Engine
    from xsp.cli.lines import RecordingEngine
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
        nodes = _nodes(deployment, args.node)
        if nodes["XSP"] is None and any(e.cli in ("XSP", "ADP") for e in entries):
            deployment.first_cti_node()  # says there is none, and how to add one
    except (ConfigFileError, ModelError) as exc:
        print(f"xsp: {exc}", file=sys.stderr)
        return 2
    control = ManagedNodeControl(store)
    try:
        engines: dict[str, RecordingEngine] = {
            "AS": Engine(store, deployment.application_server.name, control)}
        if (xsp_node := nodes["XSP"]) is not None:
            engines["XSP"] = engines["ADP"] = Engine(store, xsp_node, control)
        if (cucm_node := nodes["CUCM"]) is not None:
            engines["CUCM"] = CucmEngine(store, cucm_node, control)
        differences = replay(entries, engines)
    except TranscriptError as exc:  # names a line of the file, as a parse error does
        print(f"xsp: {args.file}: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
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


def _nodes(deployment: Deployment, named: str | None) -> dict[str, str | None]:
    """The node each kind of line runs on: ``named`` for its kind, the first for the other."""
    first = {"XSP": next((n.name for n in deployment.nodes if n.is_xsp), None),
             "CUCM": next((n.name for n in deployment.nodes if n.kind == "CUCM"), None)}
    if named is None:
        return first
    try:
        node = deployment.node(named)
    except KeyError:
        raise ModelError("", f"--node {named}: no such node in this state") from None
    if node.kind == "AS":
        return first  # AS_CLI lines always run on the Application Server
    return {**first, ("CUCM" if node.kind == "CUCM" else "XSP"): named}

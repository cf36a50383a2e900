"""``xsp sim``: drive calls on the running node, to produce Xsi-Events."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from xsp.commands import show_help
from xsp.commands.shell import add_state_argument, open_store
from xsp.config.errors import ConfigFileError
from xsp.cti.scenario import ScenarioError, read_scenario
from xsp.node.control import NodeError, request


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "sim", help="simulate calls on the running node (events for subscribers)",
        description="Drive calls on the node running on the state (an interactive xsp shell's, "
                    "xsp serve's or xsp demo's), so that its subscribers receive Xsi-Events. "
                    "Exit status 0 when the node ran the call or scenario, 1 when no node runs "
                    "or it refused.")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB")
    parser.set_defaults(run=lambda args: show_help(parser))

    call = verbs.add_parser("call", help="one call from CALLER to CALLEE",
                            description="A call between two users of the Application Server (or "
                                        "one user and a tel:/sip: address). Waits for the call to "
                                        "end and lists the events published.")
    call.add_argument("caller", metavar="CALLER",
                      help="the calling user (a user id of the Application Server)")
    call.add_argument("callee", metavar="CALLEE",
                      help="the called user, or a tel: or sip: address outside the Application Server")
    call.add_argument("--answer-after", type=float, default=1.0, metavar="S",
                      help="seconds of ringing before the callee answers (default 1)")
    call.add_argument("--no-answer", action="store_true", help="the callee never answers")
    call.add_argument("--hold-after", type=float, metavar="S", help="the caller holds S seconds after the answer")
    call.add_argument("--retrieve-after", type=float, metavar="S", help="and retrieves S seconds after the hold")
    call.add_argument("--transfer-to", metavar="USER", help="the callee transfers the call to USER")
    call.add_argument("--release-after", type=float, default=2.0, metavar="S",
                      help="seconds after the answer (or ringing) before release (default 2)")
    add_state_argument(call)
    call.set_defaults(run=run_call)

    scenario = verbs.add_parser("run", help="play a YAML scenario file",
                                description="Plays the calls, waits and do-not-disturb changes of "
                                            "a YAML scenario file on the running node.")
    scenario.add_argument("file", type=Path, metavar="FILE",
                          help="the scenario (YAML: a name and a list of steps such as call, "
                               "wait and dnd)")
    scenario.add_argument("--time-scale", type=float, metavar="X",
                          help="multiply every delay of the file by X")
    add_state_argument(scenario)
    scenario.set_defaults(run=run_scenario)


def _send(args: argparse.Namespace, payload: dict) -> int:
    store = open_store(args)
    try:
        store.check()
        reply = request(store.dir, payload, timeout=600)
    except (NodeError, ConfigFileError) as exc:  # no node, a request too long, a bad state
        print(f"xsp: {exc}", file=sys.stderr)
        return 1
    stream = sys.stdout if reply.get("ok") else sys.stderr
    print("\n".join(reply["lines"]), file=stream)
    return 0 if reply.get("ok") else 1


def run_call(args: argparse.Namespace) -> int:
    return _send(args, {
        "op": "call", "caller": args.caller, "callee": args.callee,
        "answer_after": None if args.no_answer else args.answer_after,
        "hold_after": args.hold_after, "retrieve_after": args.retrieve_after,
        "transfer_to": args.transfer_to, "release_after": args.release_after})


def run_scenario(args: argparse.Namespace) -> int:
    # Read here, with this user's rights and checks, so the node only ever gets data.
    try:
        scenario = read_scenario(args.file)
    except ScenarioError as exc:
        print(f"xsp: {exc}", file=sys.stderr)
        return 1
    return _send(args, {"op": "scenario", "scenario": scenario, "time_scale": args.time_scale})

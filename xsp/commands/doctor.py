"""``xsp doctor``: the readiness check of a node against what Webex needs."""
from __future__ import annotations

import argparse
import sys

from xsp.commands.shell import add_state_argument, open_store
from xsp.config.store import ConfigFileError


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "doctor", help="check a node against what Webex needs, with the commands that fix it",
        description="Checks a node inmost to outmost, as the guide orders the procedure. Exit "
                    "status 0 only when every check passes.")
    add_state_argument(parser)
    parser.add_argument("--node", help="XSP or ADP node to check (default: the first)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from xsp.doctor import check, render

    store = open_store(args)
    try:
        deployment = store.load()
    except ConfigFileError as exc:
        print(f"xsp: {exc}", file=sys.stderr)
        return 1
    name = args.node or next(n.name for n in deployment.nodes if n.kind != "AS")
    try:
        node = deployment.node(name)
    except KeyError:
        print(f"xsp: no node named {name!r} in this state", file=sys.stderr)
        return 1
    if node.kind == "AS":
        print("xsp: the doctor checks an XSP or ADP node; the AS is checked through it", file=sys.stderr)
        return 1
    findings = check(deployment, name)
    print(f"Readiness of {name} ({node.kind}) for Webex CTI, state {store.dir}:")
    print("\n".join(render(findings)))
    return 0 if all(f.ok for f in findings) else 1

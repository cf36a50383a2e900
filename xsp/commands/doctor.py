"""``xsp doctor``: the readiness check of a node against what Webex needs."""
from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from xsp.commands.shell import add_state_argument, log_to_state, open_store
from xsp.config.model import ModelError, Node
from xsp.config.store import ConfigFileError, Store

if TYPE_CHECKING:
    from xsp.doctor import Finding


PROBE_USER = "alice@example.com"


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "doctor", help="check a node against what Webex needs, with the commands that fix it",
        description="Checks a node inmost to outmost, as the guide orders the procedure. Exit "
                    "status 0 only when every check passes.")
    add_state_argument(parser)
    parser.add_argument("--node", help="XSP, ADP or CUCM node to check (default: the first XSP or ADP)")
    parser.add_argument("--probe", action="store_true",
                        help="also make a real handshake and subscription (needs --cert and --key)")
    # Each of these means a probe: given without --probe they imply it, rather than
    # being ignored.
    parser.add_argument("--cert", metavar="F",
                        help="client certificate (with its chain) for the probe; implies --probe")
    parser.add_argument("--key", metavar="F", help="its private key; implies --probe")
    parser.add_argument("--ca", metavar="F",
                        help="CA to verify the server with (default: not verified); implies --probe")
    parser.add_argument("--user", metavar="ID",
                        help=f"user to subscribe in the probe (default {PROBE_USER}); implies --probe")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from xsp.doctor import check, render

    implied_by = [option for option in ("cert", "key", "ca", "user") if getattr(args, option)]
    if not args.probe and implied_by:
        args.probe, asked = True, f"--{implied_by[0]} implies --probe, which"
    else:
        asked = "--probe"
    if args.probe and not (args.cert and args.key):
        print(f"xsp: {asked} needs --cert and --key (the client certificate to try)",
              file=sys.stderr)
        return 2
    store = open_store(args)
    try:
        if not store.check():
            # Reading must not make a state: a mistyped --state would pass for a new one.
            print(f"xsp: no state at {store.dir}; check the path (a state is made by "
                  f"xsp shell --state {store.dir} or xsp demo)", file=sys.stderr)
            return 1
        deployment = store.load()
        name = args.node or deployment.first_cti_node().name
    except (ConfigFileError, ModelError) as exc:
        print(f"xsp: {exc}", file=sys.stderr)
        return 1
    try:
        node = deployment.node(name)
    except KeyError:
        print(f"xsp: no node named {name!r} in this state", file=sys.stderr)
        return 1
    if node.kind == "AS":
        print("xsp: the doctor checks an XSP or ADP node; the AS is checked through it", file=sys.stderr)
        return 1
    if node.kind == "CUCM":
        return _cucm(store, name, args)
    findings = check(deployment, name)
    if args.probe:
        log_to_state(store)
        probed = _probe(store, node, args)
        if not probed.ok and not all(f.ok for f in findings):
            probed.fix.append("see the failed checks above")
        findings.append(probed)
    print(f"Readiness of {name} ({node.kind}) for Webex CTI, state {store.dir}:")
    print("\n".join(render(findings)))
    return 0 if all(f.ok for f in findings) else 1


def _cucm(store: Store, name: str, args: argparse.Namespace) -> int:
    from xsp.cucm.doctor import check as check_cucm
    from xsp.doctor import render

    if args.probe:
        print("xsp: --probe is for an XSP or ADP node; run xsp jtapi-client against a CUCM node",
              file=sys.stderr)
        return 2
    findings = check_cucm(store, name)
    print(f"Readiness of {name} (CUCM) for secure CTI (JTAPI/TSP on 2749), state {store.dir}:")
    print("\n".join(render(findings, "secure CTI")))
    return 0 if all(f.ok for f in findings) else 1


def _probe(store: Store, node: Node, args: argparse.Namespace) -> "Finding":
    """Probe the first secure interface, through the running node or one started for it."""
    import asyncio

    from xsp.doctor import Finding, probe
    from xsp.node.addresses import bind_address
    from xsp.node.control import node_running
    from xsp.node.background import NodeThread

    servers = [s for s in node.xsp_settings.cti_servers if s.secure]
    if not servers:
        return Finding("probe", False, "no secure CTI interface to probe", [])
    server = servers[0]
    host, _ = bind_address(server.ip)
    started = None if node_running(store.dir) else NodeThread(store).start()
    try:
        return asyncio.run(probe(host, server.port, args.cert, args.key, args.ca,
                                 args.user or PROBE_USER,
                                 [t.cert_pem for t in node.xsp_settings.trusts],
                                 cli=node.prompt_name, interface_ip=server.ip))
    finally:
        if started is not None:
            started.stop()

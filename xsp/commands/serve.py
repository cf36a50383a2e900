"""``xsp serve``: run the CTI listeners of every XSP|ADP node of a state."""
from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from xsp.commands.shell import add_state_argument, log_to_state, open_store
from xsp.config.store import ConfigFileError
from xsp.live import service as live_page
from xsp.live.address import LivePageError
from xsp.node import loop as event_loop
from xsp.node.control import NodeAlreadyRunning
from xsp.node.service import NodeService


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "serve", help="run the CTI listeners of the state's XSP|ADP nodes until stopped",
        description="Run every CTI interface of every XSP|ADP node of the state until SIGTERM "
                    "or SIGINT. Shells on the same state edit its configuration and restart it "
                    "with `emu restart`.")
    add_state_argument(parser)
    parser.add_argument("--ack-timeout", type=float, default=5.0, metavar="S",
                        help="seconds before an unacknowledged event is sent again (default 5)")
    parser.add_argument("--handshake-timeout", type=float, default=10.0, metavar="S",
                        help="seconds a client has to finish the TLS handshake (default 10)")
    live_page.add_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    store = open_store(args)
    service = NodeService(store, ack_timeout=args.ack_timeout,
                          handshake_timeout=args.handshake_timeout)
    try:
        store.load()
        service.acquire()
    except (ConfigFileError, NodeAlreadyRunning) as exc:
        print(f"xsp: {exc}", file=sys.stderr)
        return 1
    try:
        service.live = live_page.from_arguments(args)
    except LivePageError as exc:
        service.release()
        print(f"xsp: {exc}", file=sys.stderr)
        return 1
    log_to_state(store)
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    logging.getLogger().addHandler(console)
    try:
        event_loop.run(_serve(service))
    finally:
        service.release()
    return 0


async def _serve(service: NodeService) -> None:
    await service.start()
    host = service.host
    for name in [*host.nodes, *host.cucm]:
        print(f"Node {name}:", *host.status(name), sep="\n", flush=True)
    if service.live is not None:
        print(f"Live page (read-only): {service.live.url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # Said once a SIGTERM is handled: a supervisor may stop the node as soon as it reads it.
    print(f"Serving; control socket {service.control_socket}. Stop with Ctrl-C.", flush=True)
    await stop.wait()
    await service.stop()  # no new control requests, then the node tells its channels
    print("Stopped.", flush=True)

"""``xsp webex-client``: connect to a CTI interface as Webex does and print its events.

Exit status: 0 when it stopped as asked (``--count`` events seen, or ``--timeout``
without ``--count``, or Ctrl-C); 1 when the connection or a subscription failed, the
server ended the channel, or ``--timeout`` came before ``--count`` events; 2 for
unusable options. Every
failure is one line on stderr starting ``xsp: ``.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
from typing import TextIO

from xsp.webex.received import XsiEvent
from xsp.webex.client import TRANSPORTS, WebexClient, WebexClientError, tls_context

DESCRIPTION = """\
Connect to an XSP|ADP CTI interface the way Webex does: mutual TLS (presenting --cert,
verifying the server against --ca), one connection speaking the CTI interface protocol
(XML request, response, event and keepalive messages), an Xsi-Events channel on it, one
subscription per --user, keepalives, an acknowledgement for every event. With
--transport http or ws it talks to the XSP's Xsi interface instead (HTTP streaming, or
the emulator's own WebSocket mapping). Prints one line per event:

     1 alice@example.com        CallSubscriptionEvent      hookStatus=On-Hook

(sequence number, the user it is about, the event type, its main fields), or one JSON
object per line with --json. Stops after --count events, at --timeout, or on Ctrl-C,
then deletes its subscriptions and channel."""


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("webex-client", help="subscribe to a CTI interface as Webex does "
                            "and print the events", description=DESCRIPTION,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connect", required=True, metavar="HOST:PORT",
                        help="the CTI interface, e.g. 127.0.0.1:8012 or [::1]:8012")
    parser.add_argument("--cert", metavar="FILE", help="client certificate (PEM; may hold the chain)")
    parser.add_argument("--key", metavar="FILE", help="the certificate's private key (PEM)")
    parser.add_argument("--ca", metavar="FILE", help="CA certificates to verify the server with")
    parser.add_argument("--plain", action="store_true",
                        help="no TLS at all (an interface with Secure false)")
    parser.add_argument("--server-name", metavar="NAME",
                        help="name to verify the server certificate against (default: HOST)")
    parser.add_argument("--user", action="append", required=True, metavar="ID",
                        help="user to subscribe to (repeatable)")
    parser.add_argument("--event", action="append", metavar="PACKAGE",
                        help='event package (repeatable; default "Advanced Call")')
    parser.add_argument("--transport", choices=TRANSPORTS, default="cti",
                        help="cti: the CTI interface protocol, as Webex speaks it on 8012 "
                             "(default); http: Xsi-Events HTTP streaming on the XSP's Xsi "
                             "interface; ws: the emulator's own WebSocket mapping there")
    parser.add_argument("--application-id", default="xsp-webex-client", metavar="ID",
                        help="applicationId of the channel set and subscriptions (default: "
                             "xsp-webex-client); a second client with the same certificate "
                             "and applicationId ends this one's channels (DuplicateChannelSet)")
    parser.add_argument("--channels", type=int, default=1, metavar="N",
                        help="channels to open in the channel set (default: 1)")
    parser.add_argument("--count", type=int, metavar="N", help="stop after N events")
    parser.add_argument("--timeout", type=float, metavar="S", help="stop after S seconds")
    parser.add_argument("--heartbeat", type=float, default=15.0, metavar="S",
                        help="seconds between heartbeats (default: 15)")
    parser.add_argument("--json", action="store_true", help="one JSON object per event")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        host, port = parse_connect(args.connect)
        if args.plain:
            context = None
        else:
            missing = [f"--{name}" for name in ("cert", "key", "ca") if not getattr(args, name)]
            if missing:
                return _fail(f"{', '.join(missing)} required (or --plain for an interface "
                             "without TLS)", 2)
            context = tls_context(args.cert, args.key, args.ca)
        for name in ("count", "channels"):
            value = getattr(args, name)
            if value is not None and value < 1:
                return _fail(f"--{name} must be at least 1", 2)
        if args.timeout is not None and args.timeout <= 0 or args.heartbeat <= 0:
            return _fail("--timeout and --heartbeat must be positive", 2)
    except ValueError as exc:
        return _fail(str(exc), 2)
    except WebexClientError as exc:
        return _fail(str(exc), 2)
    # The library warns about failed heartbeats as it goes; here the one line on stderr
    # at the end says what went wrong.
    logging.getLogger("xsp.webex").setLevel(logging.ERROR)
    client = WebexClient(host, port, ssl_context=context, transport=args.transport,
                         channels=args.channels, heartbeat_interval=args.heartbeat,
                         server_hostname=args.server_name, application_id=args.application_id)
    try:
        return asyncio.run(_session(client, args, sys.stdout))
    except WebexClientError as exc:
        return _fail(str(exc), 1)


def parse_connect(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--connect wants HOST:PORT (e.g. 127.0.0.1:8012), got {text!r}")
    return host, int(port)


async def _session(client: WebexClient, args: argparse.Namespace, out: TextIO) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    async with client:
        for user in args.user:
            for package in args.event or ["Advanced Call"]:
                await client.subscribe(user, event=package)
        reader = asyncio.ensure_future(_print_events(client, args, out))
        stopper = asyncio.ensure_future(stop.wait())
        done, _ = await asyncio.wait({reader, stopper}, timeout=args.timeout,
                                     return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if reader in done:
            return reader.result()
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        if stop.is_set() or args.count is None:
            return 0
        return _fail(f"timed out after {args.timeout:g} s before {args.count} events", 1)


async def _print_events(client: WebexClient, args: argparse.Namespace, out: TextIO) -> int:
    seen = 0
    terminated: str | None = None
    async for event in client.events():
        if event.duplicate:
            continue  # acknowledged again, printed once
        out.write(format_event(event, as_json=args.json) + "\n")
        out.flush()
        if event.terminates_channel:
            terminated = event.fields.get("reason", "")
            continue
        seen += 1
        if args.count is not None and seen >= args.count:
            return 0
    # Without --count the client meant to listen until told to stop: losing every
    # channel is a failure either way.
    why = f"the server terminated the channel ({terminated})" if terminated is not None \
        else "the server closed the channel"
    counted = f"{seen} of {args.count}" if args.count is not None else str(seen)
    return _fail(f"{why} after {counted} events", 1)


def format_event(event: XsiEvent, *, as_json: bool = False) -> str:
    if as_json:
        return json.dumps(event.as_dict(), sort_keys=True)
    number = "-" if event.sequence_number is None else str(event.sequence_number)
    subject = event.subject if not event.terminates_channel else f"channel {event.channel_id}"
    return f"{number:>4} {subject:<24} {event.type:<26} {event.summary()}".rstrip()


def _fail(message: str, status: int) -> int:
    print(f"xsp: {message}", file=sys.stderr)
    return status

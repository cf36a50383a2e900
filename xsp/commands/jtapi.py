"""``xsp jtapi-client``: a JTAPI/TSP-like CTI application against a CUCM node's CTIManager."""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from xsp.config.cucm import DEVICE_NAME, INSTANCE_ID
from xsp.cucm.jtapi import CtiConnection, JtapiError, JtapiOptions, start

PASSWORD_VARIABLE = "XSP_JTAPI_PASSWORD"


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "jtapi-client", help="a JTAPI/TSP-like CTI application: CTL, CAPF, CTIManager provider and devices",
        description="Downloads the CTL over TFTP (the first one is trusted and stored, later ones must be "
                    "signed by a SAST of the one held), enrols with CAPF when the instance has no "
                    "certificate yet, connects to CTIManager on 2749 with mutual TLS (--secure) or on "
                    "2748, opens the provider and the devices, and prints every message. Failures print "
                    "the TSP's words and the CTI error code and exit 1.")
    parser.add_argument("user", help="the application or end user ID")
    parser.add_argument("--password", help=f"the user's password (default: ${PASSWORD_VARIABLE})")
    parser.add_argument("--host", default="127.0.0.1", help="the CUCM node's address")
    parser.add_argument("--tftp-port", type=int, default=6969, help="TFTP (the emulator's default 6969)")
    parser.add_argument("--capf-port", type=int, default=3804, help="CAPF (default 3804)")
    parser.add_argument("--cti-port", type=int, default=2748,
                        help="CTIManager without TLS (default 2748)")
    parser.add_argument("--cti-tls-port", type=int, default=2749,
                        help="CTIManager with mutual TLS (default 2749)")
    parser.add_argument("--secure", action="store_true", help="connect on the TLS port with a CAPF certificate")
    parser.add_argument("--instance-id", default="", help="the CAPF profile's Instance ID (with --secure)")
    parser.add_argument("--auth-string", default="", metavar="DIGITS",
                        help="the CAPF profile's authentication string, to enrol when no certificate is held")
    parser.add_argument("--device", action="append", default=[], metavar="SEP...",
                        help="a device to open (repeatable)")
    parser.add_argument("--dir", type=Path, default=Path("jtapi"),
                        help="where the CTL, the certificate and its key (0600) are kept (default ./jtapi)")
    parser.add_argument("--heartbeat", type=int, default=60, help="seconds between heartbeats (1-300)")
    parser.add_argument("--listen", type=float, default=0.0, metavar="SECONDS",
                        help="stay connected this long, sending heartbeats and printing events")
    parser.set_defaults(run=run)


def _check(args: argparse.Namespace) -> str | None:
    for device in args.device:
        if not DEVICE_NAME.fullmatch(device.upper()):
            return f"--device {device}: not a device name; expected SEP and 12 hex digits"
    if args.instance_id and not INSTANCE_ID.fullmatch(args.instance_id):
        return f"--instance-id {args.instance_id}: expected 1 to 128 letters and digits"
    if args.auth_string and not (args.auth_string.isdigit() and 4 <= len(args.auth_string) <= 10):
        return "--auth-string: expected 4 to 10 digits"
    if not 1 <= args.heartbeat <= 300:
        return f"--heartbeat {args.heartbeat}: expected 1 to 300 seconds"
    if args.listen < 0 or args.listen > 86400:
        return f"--listen {args.listen}: expected 0 to 86400 seconds"
    for name in ("tftp_port", "capf_port", "cti_port", "cti_tls_port"):
        if not 1 <= getattr(args, name) <= 65535:
            return f"--{name.replace('_', '-')} {getattr(args, name)}: expected 1 to 65535"
    return None


def run(args: argparse.Namespace) -> int:
    problem = _check(args)
    password = args.password if args.password is not None else os.environ.get(PASSWORD_VARIABLE)
    if problem is None and password is None:
        problem = f"no password: give --password or set {PASSWORD_VARIABLE}"
    if problem is not None:
        print(f"xsp jtapi-client: {problem}", file=sys.stderr)
        return 2
    options = JtapiOptions(
        user=args.user, password=password or "", directory=args.dir, host=args.host,
        tftp_port=args.tftp_port, capf_port=args.capf_port, cti_port=args.cti_port,
        cti_tls_port=args.cti_tls_port, secure=args.secure, instance_id=args.instance_id,
        auth_string=args.auth_string, devices=tuple(d.upper() for d in args.device), heartbeat=args.heartbeat)
    try:
        connection = start(options, lambda line: print(line, flush=True))
    except JtapiError as exc:
        print(f"xsp jtapi-client: {exc}", file=sys.stderr)
        return 1
    try:
        _listen(connection, args.listen, args.heartbeat)
    except JtapiError as exc:
        print(f"xsp jtapi-client: {exc}", file=sys.stderr)
        return 1
    finally:
        connection.close()
    return 0


def _listen(connection: CtiConnection, seconds: float, heartbeat: int) -> None:
    end = time.monotonic() + seconds
    shown = len(connection.received)
    while time.monotonic() < end:
        connection.heartbeat()
        for message in connection.received[shown:]:
            if message.name != "HeartbeatResponse":
                print(message.describe(), flush=True)
        shown = len(connection.received)
        time.sleep(min(heartbeat, max(0.0, end - time.monotonic())))

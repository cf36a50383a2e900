"""``xsp cucm``: tools for the CUCM profile that run without a node (``ctl show FILE``)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from xsp.commands import show_help
from xsp.cucm.ctlshow import ctl_report

REASONS = {0: "no pending operation", 1: "done", 7: "refused", 9: "unknown device or instance"}

# A CTL is a few kilobytes; anything far larger is not one.
MAX_FILE = 1024 * 1024


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("cucm", help="Cisco Unified CM files: show and verify a CTL or ITL file",
                            description="Tools of the CUCM profile that run without a node: "
                                        "read and verify a CTL or ITL file, enrol with a CAPF.")
    tools = parser.add_subparsers(dest="tool", metavar="TOOL")
    parser.set_defaults(run=lambda args: show_help(parser))
    ctl = tools.add_parser("ctl", help="CTL and ITL files (CTLFile.tlv, ITLFile.tlv)",
                           description="CTL and ITL files (CTLFile.tlv, ITLFile.tlv).")
    verbs = ctl.add_subparsers(dest="verb", metavar="VERB")
    ctl.set_defaults(run=lambda args: show_help(ctl))
    show = verbs.add_parser("show", help="print a CTL or ITL file's records and verify its signature",
                            description="Prints the header and records of a CTLFile.tlv or "
                                        "ITLFile.tlv as show ctl does, and verifies the signature "
                                        "with the SAST record whose serial number is the header's. "
                                        "Exits 1 with the reason when the file is refused.")
    show.add_argument("file", type=Path, metavar="FILE", help="the CTLFile.tlv or ITLFile.tlv to read")
    show.set_defaults(run=run_show)

    capf = tools.add_parser("capf-enrol", help="enrol with a CAPF as a phone or a JTAPI/TSP instance",
                            description="Runs one CAPF v3 session: authenticates with the device name "
                                        "or Instance ID and the authentication string, makes the key "
                                        "pair the CAPF asks for, and saves the issued certificate and "
                                        "its key (0600). Exits 1 with the CAPF's reason when it refuses.")
    capf.add_argument("name", metavar="NAME", help="device name (SEP + 12 hex digits) or Instance ID")
    capf.add_argument("--auth-string", required=True, metavar="DIGITS", help="the authentication string")
    capf.add_argument("--host", default="127.0.0.1", help="the CAPF's address (default 127.0.0.1)")
    capf.add_argument("--port", type=int, default=3804, metavar="N",
                      help="the CAPF's port (default 3804)")
    capf.add_argument("--ctl", type=Path, metavar="FILE",
                      help="a CTLFile.tlv the client holds: the CAPF must present its CAPF record")
    capf.add_argument("-o", "--out", type=Path, default=Path("."), metavar="DIR",
                      help="where to write NAME.pem and NAME.key (default: here)")
    capf.set_defaults(run=run_enrol)


def run_show(args: argparse.Namespace) -> int:
    path: Path = args.file
    try:
        if not path.is_file():
            print(f"xsp: {path}: not a file", file=sys.stderr)
            return 1
        with path.open("rb") as f:
            data = f.read(MAX_FILE + 1)
    except OSError as exc:
        print(f"xsp: cannot read {path}: {exc.strerror}", file=sys.stderr)
        return 1
    if len(data) > MAX_FILE:
        print(f"xsp: {path}: over {MAX_FILE} bytes; not a CTL file", file=sys.stderr)
        return 1
    lines, verified = ctl_report(data)
    print("\n".join(lines))
    return 0 if verified else 1


def run_enrol(args: argparse.Namespace) -> int:
    from cryptography.hazmat.primitives import serialization

    from xsp.config.store import atomic_write
    from xsp.cucm.capfclient import CapfClientSession
    from xsp.cucm.capfenrol import EnrolError, enrol

    ctl = None
    if args.ctl is not None:
        try:
            ctl = args.ctl.read_bytes()[:MAX_FILE]
        except OSError as exc:
            print(f"xsp: cannot read {args.ctl}: {exc.strerror}", file=sys.stderr)
            return 1
    session = CapfClientSession(args.name, args.auth_string)
    try:
        result = enrol(args.host, args.port, session, ctl=ctl)
    except EnrolError as exc:
        print(f"xsp: {exc}", file=sys.stderr)
        return 1
    reason = session.end_reason
    if session.certificate is None:
        meaning = REASONS.get(reason, "unknown reason") if reason is not None else "no reason"
        print(f"CAPF ended the session with reason {reason}: {session.reason_info or meaning}")
        return 0 if session.deleted else 1
    certificate, private_key = session.certificate, session.private_key
    assert private_key is not None  # a stored certificate was made for the key it holds
    cert_path, key_path = args.out / f"{args.name}.pem", args.out / f"{args.name}.key"
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write(cert_path, certificate.public_bytes(serialization.Encoding.PEM))
    atomic_write(key_path, private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
        mode=0o600)
    print(f"Certificate installed over {result.tls_version} ({result.cipher}); CAPF reason {reason}")
    print(f"  Subject: {certificate.subject.rfc4514_string()}")
    print(f"  Issuer:  {certificate.issuer.rfc4514_string()}")
    print(f"  Valid:   {certificate.not_valid_before_utc:%Y-%m-%d} to {certificate.not_valid_after_utc:%Y-%m-%d}")
    print(f"  Saved:   {cert_path} and {key_path} (0600)")
    return 0

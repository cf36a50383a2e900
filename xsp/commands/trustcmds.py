"""``xsp split-chain``, ``xsp trust verify``, ``xsp pki demo``: the certificate utilities.

Each command prints what it did on stdout and exits 0, or prints one line starting
``xsp: `` on stderr and exits non-zero, having changed nothing.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import xsp_trust as trust
from xsp.commands import show_help

TRUSTS_PROMPT = "XSP_CLI/Interface/CTI/SSLCommonSettings/ClientAuthentication/Trusts> "

SPLIT_DESCRIPTION = """\
Split a CA bundle, such as the CombinedCertChain2023.txt that Partner Hub offers, into
one file per CA certificate for `updateTrust`, and print the commands to load them.

Reads PEM (CRLF or LF, with any text around the blocks, in any order, repeated blocks
kept once), a single DER certificate, or a PKCS#7 bundle (PEM or DER). Each certificate
is classified by what it is, not where it sits: a root signs itself, an issuing CA is a
CA signed by another; each issuing CA is paired with the root whose key signed it.

Files (PEM, LF line ends, one certificate each) are named as in the Webex guide:
  root2023.txt, issuing2023.txt           one root and its issuing CA
  root2023-1.txt, issuing2023-1.txt, ...  several sets, numbered by the order of the roots
  issuing2023a.txt, issuing2023b.txt      several issuing CAs under one root
The year is the one in the bundle's file name, else the year the root was issued
(--year overrides). Leaf certificates are not written. Existing files of the same name
are replaced. Nothing is written when anything is wrong: an empty or unreadable file, no
certificate, a damaged block, a private key in the bundle, an unwritable directory."""


VERIFY_DESCRIPTION = """\
Verify LEAF up to one of the --anchor certificates, as the CTI interface verifies a
client: with --purpose client (the default) this is the very check the listener runs
in each handshake, whatever protocol it allows. With --purpose server --name HOST, as
Webex would verify the interface. Every certificate in an --anchor file is trusted as
it stands, as in a Java trust store: the issuing CA alone is enough.

Exit status: 0 and one line starting "OK:" when valid; 1 and one line naming the
reason when not (expired, not yet valid, unknown issuer, bad signature, weak digest,
weak key, not a CA, wrong key usage, name constraints, name mismatch, not a leaf); 2
when a file or option cannot be used."""


def register(sub: argparse._SubParsersAction) -> None:
    split = sub.add_parser(
        "split-chain", help="split a CA bundle into root and issuing CA files for updateTrust",
        description=SPLIT_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    split.add_argument("file", type=Path, metavar="FILE", help="the bundle to split")
    split.add_argument("-o", "--output-dir", type=Path, default=Path("."), metavar="DIR",
                       help="where to write the files (default: the current directory; "
                            "created if missing)")
    split.add_argument("--year", type=int, default=None,
                       help="year in the file names and aliases (default: from FILE's name, "
                            "else the root's issue year)")
    split.set_defaults(run=run_split)

    group = sub.add_parser("trust", help="check certificates against trust anchors",
                           description="Certificate checks, independent of any node.")
    trust_sub = group.add_subparsers(dest="trust_command", metavar="COMMAND")
    verify = trust_sub.add_parser(
        "verify", help="verify a certificate chain for client or server authentication",
        description=VERIFY_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    verify.add_argument("leaf", type=Path, metavar="LEAF",
                        help="the certificate to verify (it may be followed by its chain)")
    verify.add_argument("--anchor", type=Path, action="append", required=True, metavar="F",
                        help="a file of trust anchors, as updateTrust loads them (repeatable)")
    verify.add_argument("--untrusted", type=Path, action="append", default=[], metavar="F",
                        help="a file of intermediate CAs the peer would send (repeatable)")
    verify.add_argument("--purpose", choices=("client", "server"), default="client",
                        help="what the certificate is for (default: client)")
    verify.add_argument("--name", metavar="HOST",
                        help="the host name or IP the server is reached by (required with "
                             "--purpose server); for a client, its expected CN")
    verify.add_argument("--at", metavar="TIME",
                        help="check at this ISO-8601 time (2030-01-01, 2030-01-01T00:00:00Z); "
                             "default now")
    verify.set_defaults(run=run_verify)
    group.set_defaults(run=lambda args: show_help(group))

    pki = sub.add_parser("pki", help="make certificates for trying the CTI interface out",
                         description="Certificate material for rehearsals and tests.")
    pki_sub = pki.add_subparsers(dest="pki_command", metavar="COMMAND")
    demo = pki_sub.add_parser(
        "demo", help="mint a Webex-like client PKI and a partner server certificate",
        description=_demo_description(), formatter_class=argparse.RawDescriptionHelpFormatter)
    demo.add_argument("-o", "--output-dir", type=Path, required=True, metavar="DIR",
                      help="where to write the files (created if missing)")
    demo.add_argument("--ip", action="append", default=None, metavar="IP",
                      help="an IP address for the server certificate (repeatable; "
                           "default 127.0.0.1)")
    demo.add_argument("--name", action="append", default=None, metavar="DNS",
                      help="a DNS name for the server certificate (repeatable; "
                           "default localhost)")
    demo.set_defaults(run=run_demo)
    pki.set_defaults(run=lambda args: show_help(pki))


def fail(message: str, status: int = 1) -> int:
    print(f"xsp: {message}", file=sys.stderr)
    return status


def run_split(args: argparse.Namespace) -> int:
    try:
        plan, out = trust.split_bundle(args.file, args.output_dir, year=args.year)
    except trust.TrustError as exc:
        return fail(f"{exc} (nothing was written)")
    out = out.resolve()
    noun = "file" if len(plan.files) == 1 else "files"
    print(f"Wrote {len(plan.files)} {noun} to {out}:")
    print()
    rows = []
    for written in plan.files:
        info = trust.describe(written.certificate)
        rows.append([written.name, info.subject_cn, info.issuer_cn,
                     "yes" if info.self_signed else "no",
                     info.not_after.strftime("%Y-%m-%d"), info.sha256_colons])
    print_table(["File", "Subject CN", "Issuer CN", "Self-signed", "Not after", "SHA-256"],
                rows)
    for line in plan.left_out:
        print(f"Not written: {line}")
    for line in plan.notes:
        print(f"Note: {line}")
    print()
    print("Next, on the XSP|ADP (copy the files there first if this is another machine):")
    for written in plan.files:
        print(f"{TRUSTS_PROMPT}updateTrust {written.alias} {out / written.name}")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    if args.purpose == "server" and not args.name:
        return fail("--purpose server needs --name HOST (the name or IP clients connect to)", 2)
    try:
        at = trust.parse_time(args.at) if args.at else None
    except trust.TrustError as exc:
        return fail(f"--at: {exc}", 2)
    try:
        result = trust.verify_files(args.leaf, args.anchor, untrusted_paths=args.untrusted,
                                    purpose=args.purpose, name=args.name, at=at)
    except trust.TrustError as exc:
        return fail(str(exc), 2)
    if result.ok:
        print(result.message)
        return 0
    return fail(result.message, 1)


def _demo_description() -> str:
    width = max(len(name) for name in trust.DEMO_FILES)
    listing = "\n".join(f"  {name.ljust(width)}  {what}" for name, what in trust.DEMO_FILES.items())
    return ("Mint a demo PKI into DIR: the Webex side (root, issuing CA, their combined file,\n"
            "the CTI client certificate) and the partner side (a CA and the interface's server\n"
            "certificate, key and chain). Keys are written 0600; existing files are replaced.\n\n"
            f"Files:\n{listing}")


def run_demo(args: argparse.Namespace) -> int:
    ips = args.ip if args.ip is not None else ["127.0.0.1"]
    names = args.name if args.name is not None else ["localhost"]
    try:
        pki = trust.make_demo_pki(args.output_dir, ips=ips, dns_names=names)
    except trust.TrustError as exc:
        return fail(str(exc))
    out = args.output_dir.resolve()
    print(f"Wrote the demo PKI to {out}:")
    print()
    rows = []
    for path in pki.paths():
        rows.append([path.name, f"{path.stat().st_mode & 0o777:04o}", trust.DEMO_FILES[path.name]])
    print_table(["File", "Mode", "Contents"], rows)
    print()
    print(f"Server certificate for: {', '.join([*names, *ips])}")
    return 0


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows)]
    for line in [headers, ["-" * w for w in widths], *rows]:
        print("  " + "  ".join(str(cell).ljust(w) for cell, w in zip(line, widths)).rstrip())

"""The `xsp` command line: one subcommand module per job under `xsp.commands`."""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

# Each module exposes `register(subparsers)`, adding its parsers with
# `set_defaults(run=callable)`; the callable takes the parsed namespace and
# returns the exit status. Subcommand name -> the module that registers it.
COMMANDS = {
    "shell": "xsp.commands.shell",
    "serve": "xsp.commands.serve",
    "demo": "xsp.commands.demo",
    "doctor": "xsp.commands.doctor",
    "replay": "xsp.commands.replay",
    "split-chain": "xsp.commands.trustcmds",
    "trust": "xsp.commands.trustcmds",
    "pki": "xsp.commands.trustcmds",
    "webex-client": "xsp.commands.webex",
    "sim": "xsp.commands.sim",
    "cucm": "xsp.commands.cucm",
    "jtapi-client": "xsp.commands.jtapi",
}


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("xsp")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "(not installed)"


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole parser, or just the one subcommand ``only`` (a fast start for the shell)."""
    parser = argparse.ArgumentParser(
        prog="xsp",
        description="Emulator and configurator of the BroadWorks XSP|ADP CTI interface used by Webex.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = [COMMANDS[only]] if only in COMMANDS else list(dict.fromkeys(COMMANDS.values()))
    for name in modules:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv[0] if argv else None)
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 1
    except OSError as exc:  # a full disk or a permission, where no command expected it
        from xsp.config.statedir import os_error
        logging.getLogger("xsp").debug("operating-system error", exc_info=True)
        print(f"xsp: {os_error(exc, 'use')}", file=sys.stderr)
        return 1
    except Exception as exc:  # one line for the user; the traceback goes to the log
        logging.getLogger("xsp").debug("unexpected error", exc_info=True)
        print(f"xsp: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

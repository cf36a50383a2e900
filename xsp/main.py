"""The `xsp` command line: one subcommand module per job under `xsp.commands`."""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

# Each module exposes `register(subparsers)`, adding its parsers with
# `set_defaults(run=callable)`; the callable takes the parsed namespace and
# returns the exit status.
COMMAND_MODULES = (
    "xsp.commands.shell",
    "xsp.commands.trustcmds",
    "xsp.commands.serve",
    "xsp.commands.demo",
    "xsp.commands.doctor",
    "xsp.commands.webex",
    "xsp.commands.sim",
    "xsp.commands.replay",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xsp",
        description="Emulator and configurator of the BroadWorks XSP|ADP CTI interface used by Webex.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue  # a subcommand not built yet
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
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
    except Exception as exc:  # one line for the user; the traceback goes to the log
        logging.getLogger("xsp").debug("unexpected error", exc_info=True)
        print(f"xsp: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

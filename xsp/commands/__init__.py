"""One module per subcommand; each exposes ``register(subparsers)``."""
from __future__ import annotations

import argparse


def show_help(parser: argparse.ArgumentParser) -> int:
    """A command group typed without its verb: its whole help, exit status 2."""
    parser.print_help()
    return 2

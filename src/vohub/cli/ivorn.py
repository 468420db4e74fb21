"""``vohub ivorn STREAM``: print a fresh IVORN, unique across processes and machines."""

from __future__ import annotations

import argparse
import sys

from vohub.cli.argtypes import positive_int
from vohub.voevent import InvalidIvorn, stamp


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the STREAM argument and the repeat count."""
    parser.add_argument("stream", metavar="STREAM", help="authority/path, e.g. example.org/alerts")
    parser.add_argument(
        "-n", "--count", type=positive_int, default=1, help="how many IVORNs to print"
    )


def run(args: argparse.Namespace) -> int:
    """Print ``--count`` IVORNs; exit 2 with a message if STREAM is not valid."""
    try:
        for _ in range(args.count):
            print(stamp(args.stream))
    except InvalidIvorn as exc:
        print(f"vohub ivorn: {exc}", file=sys.stderr)
        return 2
    return 0

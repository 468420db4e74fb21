"""``vohub validate FILE...``: check VOEvent files against the XSD of their version.

Prints one line per file, ``OK <file> <ivorn>`` or ``INVALID <file>: <reason>``, and exits
0 only when every file is valid.  ``-`` reads one packet from standard input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vohub.voevent import VOEventError, parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the FILE arguments."""
    parser.add_argument(
        "files", nargs="+", metavar="FILE", help="VOEvent XML files ('-' for stdin)"
    )


def check(name: str) -> tuple[bool, str]:
    """Validate one file; return (valid, the line to print)."""
    try:
        if name == "-":
            packet = parse(sys.stdin.buffer.read(), strict=True, source="<stdin>")
        else:
            packet = parse(Path(name), strict=True, source=name)
    except VOEventError as exc:
        return False, f"INVALID {name}: {exc.nak_reason}"
    return True, f"OK {name} {packet.ivorn}"


def run(args: argparse.Namespace) -> int:
    """Validate every file; exit status 0 only if all are valid, else 1."""
    status = 0
    for name in args.files:
        valid, line = check(name)
        print(line, flush=True)
        status |= 0 if valid else 1
    return status

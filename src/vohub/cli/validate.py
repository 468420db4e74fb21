"""``vohub validate FILE...``: check VOEvent files as a strict broker does before accepting them.

A packet is valid when it validates against the XSD of its version and its IVORN has the form
``ivo://authority/resource#local_id`` the standard prescribes (the schema alone does not
require the ``#local_id``; brokers need it, as the key they deduplicate on).

Prints one line per file, ``OK <file> <ivorn>`` or ``INVALID <file>: <reason>``, and exits
0 only when every file is valid.  ``-`` reads one packet from standard input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vohub.voevent import VOEventError, parse
from vohub.voevent.errors import InvalidIvorn
from vohub.voevent.ivorn import parse_ivorn


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
    try:
        parse_ivorn(packet.ivorn, require_local_id=True)
    except InvalidIvorn as exc:  # the broker's nak, word for word
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

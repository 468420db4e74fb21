"""``vohub publish``: send VOEvent files to a VTP broker, one connection each; report verdicts.

One line per file on standard output::

    ACK <file> <ivorn>
    NAK <file> <ivorn>: <reason>
    ERROR <file>: <reason>

The exit status is 0 only if every file was acked, 1 otherwise (2 for bad usage).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from vohub.vtp.address import parse_address
from vohub.vtp.client import publish
from vohub.vtp.errors import VTPError
from vohub.vtp.messages import Ack

#: Seconds allowed per file (Comet gives an author 20 s).
DEFAULT_TIMEOUT = 20.0


def broker_address(text: str) -> tuple[str, int]:
    """argparse type for ``HOST:PORT``."""
    try:
        return parse_address(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def positive_seconds(text: str) -> float:
    """argparse type for a positive number of seconds."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare ``vohub publish`` options."""
    parser.add_argument(
        "files", nargs="+", metavar="FILE", help="VOEvent files to send; '-' reads standard input"
    )
    parser.add_argument(
        "--to",
        required=True,
        type=broker_address,
        metavar="HOST:PORT",
        help="the broker's receive port (Comet's default is 8098)",
    )
    parser.add_argument(
        "--timeout",
        type=positive_seconds,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"time allowed per file (default {DEFAULT_TIMEOUT:g})",
    )


def run(args: argparse.Namespace) -> int:
    """Publish every file in turn; return 0 if all were acked, else 1."""
    host, port = args.to
    status = 0
    for name in args.files:
        line = _publish_one(name, host, port, args.timeout)
        print(line, flush=True)
        status |= 0 if line.startswith("ACK ") else 1
    return status


def _publish_one(name: str, host: str, port: int, seconds: float) -> str:
    try:
        packet = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
    except OSError as exc:
        return f"ERROR {name}: cannot read: {exc.strerror or exc}"
    try:
        reply = asyncio.run(publish(host, port, packet, timeout=seconds))
    except VTPError as exc:
        return f"ERROR {name}: {exc}"
    if isinstance(reply, Ack):
        return f"ACK {name} {reply.ivorn}"
    return f"NAK {name} {reply.ivorn}: {reply.reason or 'no reason given'}"

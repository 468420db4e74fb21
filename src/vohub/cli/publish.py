"""``vohub publish``: send VOEvent files to a VTP broker; report each verdict.

Where the broker grants it (a vohub broker), every file goes down one pipelined connection;
elsewhere (Comet) each file gets a connection of its own, one after the other, as plain VTP
wants. One line per file on standard output, in the order given, each as soon as it and
every line before it are known (an interrupted run has printed every verdict it got)::

    ACK <file> <ivorn>
    NAK <file> <ivorn>: <reason>
    ERROR <file>: <reason>

A file that cannot be read, or is not well-formed VOEvent XML, is reported and not sent: a
broker hangs up on a packet it cannot parse, which would cost the other files in flight their
answers. No more than ``--max-bytes`` and one byte of a file (or of standard input) is read:
a larger one is reported with its size, or, for a pipe, as over the cap.

The exit status is 0 only if every file was acked, 1 otherwise (2 for bad usage).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import sys

from vohub.cli.argtypes import broker_address, positive_int, positive_seconds
from vohub.voevent import PacketTooLarge, VOEventError, parse
from vohub.voevent.xmlsafe import read_capped
from vohub.vtp.client import Publisher
from vohub.vtp.errors import LocalProtocolError, VTPError
from vohub.vtp.framing import COMET_MAX_FRAME_SIZE, DEFAULT_MAX_FRAME_SIZE
from vohub.vtp.messages import Ack

#: Seconds allowed per file (Comet gives an author 20 s).
DEFAULT_TIMEOUT = 20.0
#: Files in flight at once on a pipelined connection.
WINDOW = 32


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
    parser.add_argument(
        "--max-bytes",
        type=positive_int,
        default=COMET_MAX_FRAME_SIZE,
        metavar="N",
        help=f"largest file to send (default {COMET_MAX_FRAME_SIZE}, what Comet takes; a vohub "
        f"broker takes up to {DEFAULT_MAX_FRAME_SIZE})",
    )


def run(args: argparse.Namespace) -> int:
    """Publish every file; return 0 if all were acked, else 1."""
    host, port = args.to
    loaded = [(name, _read(name, args.max_bytes)) for name in args.files]
    acked = asyncio.run(_publish_all(loaded, host, port, args.timeout, args.max_bytes))
    return 0 if acked else 1


def _read(name: str, max_bytes: int) -> bytes | str:
    """The file's bytes, or the line reporting why it cannot be read or sent."""
    try:
        with _open(name) as handle:
            raw = read_capped(handle, name, max_bytes)
    except OSError as exc:
        return f"ERROR {name}: cannot read: {exc.strerror or exc}"
    except PacketTooLarge as exc:
        shown = "over" if exc.size is None else f"{exc.size} bytes, over"
        return f"ERROR {name}: not sent: {shown} --max-bytes {max_bytes}"
    try:
        parse(raw, source=name, max_bytes=max_bytes)
    except VOEventError as exc:
        return f"ERROR {name}: not sent: {exc.nak_reason}"
    return raw


def _open(name: str) -> io.FileIO:
    """The file, or standard input for ``-``, unbuffered: a read takes no byte more than asked
    for, so a pipe is never drained past the cap."""
    if name == "-":
        return open(sys.stdin.fileno(), "rb", buffering=0, closefd=False)
    return open(name, "rb", buffering=0)


async def _publish_all(
    loaded: list[tuple[str, bytes | str]], host: str, port: int, seconds: float, max_bytes: int
) -> bool:
    """Publish every file, printing each line as soon as it and all before it are known (an
    interrupted run has reported every verdict it got); whether every file was acked."""
    publisher = Publisher(host, port, window=WINDOW, timeout=seconds, max_send_size=max_bytes)
    acked = True
    async with publisher:
        tasks = [asyncio.ensure_future(_publish_one(publisher, *item)) for item in loaded]
        try:
            for task in tasks:
                line = await task
                print(line, flush=True)
                acked = acked and line.startswith("ACK ")
        finally:  # stopped early (the reader went away, Ctrl-C): no file is sent after this
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    return acked


async def _publish_one(publisher: Publisher, name: str, packet: bytes | str) -> str:
    if isinstance(packet, str):
        return packet
    try:
        reply = await publisher.publish(packet)
    except LocalProtocolError as exc:  # refused here, before sending: no broker involved
        return f"ERROR {name}: not sent: {exc.detail}"
    except VTPError as exc:
        return f"ERROR {name}: {exc}"
    if isinstance(reply, Ack):
        return f"ACK {name} {reply.ivorn}"
    return f"NAK {name} {reply.ivorn}: {reply.reason or 'no reason given'}"

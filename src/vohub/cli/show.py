"""``vohub show FILE``: print a human summary of a VOEvent packet.

The summary gives the IVORN, role, stream, author, positions with their UTC times,
parameters (top-level and grouped), citations, How/Why, and anything lenient parsing
found wrong.  The packet is parsed leniently, so invalid packets can still be inspected.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

from vohub.voevent import Packet, Param, VOEventError, parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the FILE argument."""
    parser.add_argument("file", metavar="FILE", help="a VOEvent XML file ('-' for stdin)")


def run(args: argparse.Namespace) -> int:
    """Print the summary; exit 1 with the reason if the file is not a VOEvent at all."""
    try:
        if args.file == "-":
            packet = parse(sys.stdin.buffer.read(), source="<stdin>", check_schema=True)
        else:
            packet = parse(Path(args.file), source=args.file, check_schema=True)
    except VOEventError as exc:
        print(f"vohub show: {exc}", file=sys.stderr)
        return 1
    for line in summary(packet):
        print(line)
    return 0


def _param_text(param: Param) -> str:
    unit = f" {param.unit}" if param.unit else ""
    ucd = f"  [{param.ucd}]" if param.ucd else ""
    return (
        f"{param.name or '(unnamed)'} = {param.value if param.value is not None else ''}{unit}{ucd}"
    )


def summary(packet: Packet) -> Iterator[str]:
    """The summary lines for ``packet``."""
    yield f"IVORN:    {packet.ivorn}"
    yield f"Role:     {packet.role}    Version: {packet.version or '(none)'}"
    yield f"Stream:   {packet.stream}"
    yield f"Author:   {packet.author_ivorn or '(none)'}"
    if packet.author_datetime is not None:
        yield f"Date:     {packet.author_datetime.isoformat()}"
    if packet.what_description or packet.description:
        yield f"About:    {packet.what_description or packet.description}"
    yield from _positions(packet)
    yield from _params(packet)
    for cite in packet.citations:
        note = f" ({cite.description})" if cite.description else ""
        yield f"Cites:    {cite.cite} {cite.ivorn}{note}"
    if packet.how is not None:
        for text in packet.how.descriptions:
            yield f"How:      {text}"
    if packet.why is not None:
        for inf in packet.why.inferences:
            prob = f" p={inf.probability:g}" if inf.probability is not None else ""
            yield f"Why:      {', '.join(inf.names + inf.concepts) or 'inference'}{prob}"
    for problem in packet.problems:
        yield f"Problem:  {problem}"


def _positions(packet: Packet) -> Iterator[str]:
    for pos in packet.positions:
        if pos.ra is not None and pos.dec is not None:
            err = f" ± {pos.error:g}°" if pos.error is not None else ""
            yield f"Position: RA {pos.ra:.5f}° Dec {pos.dec:+.5f}°{err} ({pos.coord_system})"
        if pos.time is not None:
            scale = (
                f" (from {pos.time_scale} {pos.iso_time})"
                if pos.time_scale not in (None, "UTC")
                else ""
            )
            yield f"Time:     {pos.time.isoformat()}{scale}"


def _params(packet: Packet) -> Iterator[str]:
    if packet.params:
        yield "Params:"
        for param in packet.params:
            yield f"  {_param_text(param)}"
    for group in packet.groups:
        yield f"Group {group.name or '(unnamed)'}:"
        for param in group.params:
            yield f"  {_param_text(param)}"

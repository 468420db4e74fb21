"""``vohub show FILE``: print a human summary of a VOEvent packet.

The summary gives the IVORN, role, stream, author (and Who's description), the packet's and
What's descriptions, positions (named or RA/Dec, coordinate system, observatory) with their UTC
times and WhereWhen's description, parameters (top-level and grouped), tables, citations, How,
Why (importance, concepts, inferences) and anything lenient parsing found wrong.  Descriptions
are printed on one line each (whitespace collapsed); sections the packet does not have are left
out.  The packet is parsed leniently, so invalid packets can still be inspected.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

from vohub.voevent import Inference, Packet, Param, Position, Table, VOEventError, Why, parse

#: Rows of a ``What/Table`` printed before the rest are summarised as a count.
MAX_TABLE_ROWS = 10
#: Columns of a ``What/Table`` printed before the rest are summarised as a count.
MAX_TABLE_COLUMNS = 8
#: Characters of a table cell (or column heading) printed; longer ones end in "…".
MAX_CELL_WIDTH = 30


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


def _one_line(text: str) -> str:
    """``text`` with each run of whitespace (newlines included) made one space."""
    return " ".join(text.split())


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
    if packet.who_description:
        yield f"Who:      {_one_line(packet.who_description)}"
    if packet.description:
        yield f"Summary:  {_one_line(packet.description)}"
    if packet.what_description:
        yield f"About:    {_one_line(packet.what_description)}"
    for pos in packet.positions:
        yield from _position(pos)
    if packet.wherewhen_description:
        yield f"Where:    {_one_line(packet.wherewhen_description)}"
    yield from _params(packet)
    for table in packet.tables:
        yield from _table(table)
    for cite in packet.citations:
        note = f" ({_one_line(cite.description)})" if cite.description else ""
        yield f"Cites:    {cite.cite} {cite.ivorn}{note}"
    if packet.how is not None:
        for text in packet.how.descriptions:
            yield f"How:      {_one_line(text)}"
    if packet.why is not None:
        yield from _why(packet.why)
    for problem in packet.problems:
        yield f"Problem:  {problem}"


def _position(pos: Position) -> Iterator[str]:
    """One ObsDataLocation: its position (coordinates and/or name), time and observatory.

    The coordinate system is printed once: after the position, or failing one (a packet
    that gives only a time), after the observatory.
    """
    system = f" ({pos.coord_system})" if pos.coord_system else ""
    named = _one_line(pos.position_name) if pos.position_name else ""
    placed = True
    if pos.ra is not None and pos.dec is not None:
        err = f" ± {pos.error:g}°" if pos.error is not None else ""
        name = f"{named}: " if named else ""
        yield f"Position: {name}RA {pos.ra:.5f}° Dec {pos.dec:+.5f}°{err}{system}"
    elif named:
        yield f"Position: {named}{system}"
    else:
        placed = False
    if pos.time is not None:
        scale = (
            f" (from {pos.time_scale} {pos.iso_time})"
            if pos.time_scale not in (None, "UTC")
            else ""
        )
        yield f"Time:     {pos.time.isoformat()}{scale}"
    if pos.observatory:
        yield f"Site:     {pos.observatory}{'' if placed else system}"


def _params(packet: Packet) -> Iterator[str]:
    if packet.params:
        yield "Params:"
        for param in packet.params:
            yield f"  {_param_text(param)}"
    for group in packet.groups:
        yield f"Group {group.name or '(unnamed)'}:"
        if group.description:
            yield f"  About: {_one_line(group.description)}"
        for param in group.params:
            yield f"  {_param_text(param)}"


def _cell(text: str) -> str:
    """A table cell on one line, cut to :data:`MAX_CELL_WIDTH` characters."""
    text = _one_line(text)
    return text if len(text) <= MAX_CELL_WIDTH else text[: MAX_CELL_WIDTH - 1] + "…"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _table(table: Table) -> Iterator[str]:
    """A ``What/Table``: a heading with its row count, its description and Params, then
    the column names (with units) over aligned rows, the large ones cut short."""
    yield f"Table {table.name or '(unnamed)'}: {_plural(len(table.rows), 'row')}"
    if table.description:
        yield f"  About: {_one_line(table.description)}"
    for param in table.params:
        yield f"  {_param_text(param)}"
    columns = max([len(table.fields), *(len(row) for row in table.rows)])
    if columns == 0:
        return
    headings = [
        f"{field.name or '(unnamed)'}{f' ({field.unit})' if field.unit else ''}"
        for field in table.fields
    ]
    headings += [""] * (columns - len(headings))
    shown = min(columns, MAX_TABLE_COLUMNS)
    rows = [
        [_cell(row[i]) if i < len(row) else "" for i in range(shown)]
        for row in table.rows[:MAX_TABLE_ROWS]
    ]
    lines = [[_cell(heading) for heading in headings[:shown]], *rows]
    widths = [max(len(line[i]) for line in lines) for i in range(shown)]
    lines.insert(1, ["-" * width for width in widths])
    for line in lines:
        cells = (text.ljust(width) for text, width in zip(line, widths, strict=True))
        yield ("  " + "  ".join(cells)).rstrip()
    left_out = []
    if len(table.rows) > MAX_TABLE_ROWS:
        left_out.append(_plural(len(table.rows) - MAX_TABLE_ROWS, "more row"))
    if columns > shown:
        left_out.append(_plural(columns - shown, "more column"))
    if left_out:
        yield f"  … {' and '.join(left_out)} not shown"


def _inference(inference: Inference) -> Iterator[str]:
    """One ``Why/Inference``: relation and probability, names, concepts in brackets."""
    relation = f" ({inference.relation})" if inference.relation else ""
    probability = f" p={inference.probability:g}" if inference.probability is not None else ""
    names = ", ".join(_one_line(name) for name in inference.names)
    concepts = "  ".join(f"[{_one_line(concept)}]" for concept in inference.concepts)
    what = f": {names}" if names else ""
    what += f"{'  ' if names else ' '}{concepts}" if concepts else ""
    yield f"  Inference{relation}{probability}{what}"
    for text in inference.descriptions:
        yield f"    About: {_one_line(text)}"


def _why(why: Why) -> Iterator[str]:
    """``Why``: importance and expiry on its heading, then its own Names, Concepts and
    descriptions, then one line per Inference; nothing for an empty ``<Why/>``."""
    heading = []
    if why.importance is not None:
        heading.append(f"importance {why.importance:g}")
    if why.expires is not None:
        heading.append(f"expires {why.expires.isoformat()}")
    lines = [f"  Name: {_one_line(name)}" for name in why.names]
    lines += [f"  Concept: {_one_line(concept)}" for concept in why.concepts]
    lines += [f"  About: {_one_line(text)}" for text in why.descriptions]
    for inference in why.inferences:
        lines += _inference(inference)
    if heading or lines:
        yield f"Why:      {', '.join(heading)}".rstrip()
        yield from lines

"""What ``vohub query`` prints: synopses as plain JSON values, and rows as an aligned table,
JSON or CSV."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from vohub.client.models import Synopsis

SYNOPSIS_COLUMNS = ("ivorn", "role", "author_datetime", "ra", "dec", "error", "cited_by")


def map_rows(result: dict[str, Any], nested: bool = False) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of a map result; a ``nested`` one (stream and role) gives key, subkey,
    count, even when no packet matches.

    >>> map_rows({"a/b": {"test": 2}}, nested=True)
    (['key', 'subkey', 'count'], [['a/b', 'test', 2]])
    >>> map_rows({}, nested=True)
    (['key', 'subkey', 'count'], [])
    """
    if nested:
        rows = [[k, sk, n] for k, sub in result.items() for sk, n in sub.items()]
        return ["key", "subkey", "count"], rows
    return ["key", "count"], [[k, n] for k, n in result.items()]


def synopsis_json(s: Synopsis) -> dict[str, Any]:
    """A synopsis as plain JSON values (degrees, ISO 8601 UTC to the millisecond with ``Z``;
    ``cited_by`` null when the server did not say).

    Read from the values the server sent, without building astropy objects (2 ms a packet).
    """
    first = s.positions[0] if s.positions else None
    authored = s.author_datetime_iso
    return {
        "ivorn": s.ivorn,
        "stream": s.stream,
        "role": s.role,
        "author_datetime": None if authored is None else iso_milliseconds(authored),
        "received": iso_milliseconds(s.received_iso),
        "ra": first.ra if first else None,
        "dec": first.dec if first else None,
        "error": first.error_radius if first else None,
        "refs": [r.ivorn for r in s.refs],
        "cited_by": s.cited_by,
    }


def iso_milliseconds(text: str) -> str:
    """An ISO 8601 UTC time rounded to the millisecond, as astropy's ``isot`` prints it, with
    ``Z`` so that no reader takes it for a local time. The last half millisecond of year 9999
    has no later millisecond to round to: it is cut to 23:59:59.999.

    >>> iso_milliseconds("2015-09-15T21:24:37Z"), iso_milliseconds("2026-12-07T23:59:59.9996+00:00")
    ('2015-09-15T21:24:37.000Z', '2026-12-08T00:00:00.000Z')
    >>> iso_milliseconds("9999-12-31T23:59:59.9999Z"), iso_milliseconds("0001-01-01T00:00:00Z")
    ('9999-12-31T23:59:59.999Z', '0001-01-01T00:00:00.000Z')
    """
    when = datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None)
    if when < datetime.max - timedelta(microseconds=500):
        when += timedelta(microseconds=500)
    return when.isoformat(timespec="milliseconds") + "Z"


def field_rows(data: dict[str, Any]) -> list[list[Any]]:
    """``[field, value]`` rows of a synopsis; a list gives one row per item, none if empty.

    >>> field_rows({"ivorn": "ivo://a/b#1", "refs": [], "cited_by": ["ivo://a/b#2", "ivo://a/b#3"]})
    [['ivorn', 'ivo://a/b#1'], ['cited_by', 'ivo://a/b#2'], ['cited_by', 'ivo://a/b#3']]
    """
    rows: list[list[Any]] = []
    for field, value in data.items():
        items = value if isinstance(value, list) else [value]
        rows.extend([field, item] for item in items)
    return rows


def synopsis_row(data: dict[str, Any]) -> list[Any]:
    """The table row of a synopsis given as :func:`synopsis_json` makes it: ``cited_by`` is
    the number of citing packets, None (an empty cell) when the server did not say.

    >>> synopsis_row({"ivorn": "ivo://a/b#1", "cited_by": ["ivo://a/b#2"]})[-1]
    1
    >>> synopsis_row({"ivorn": "ivo://a/b#1", "cited_by": None})[-1] is None
    True
    """
    count = None if data["cited_by"] is None else len(data["cited_by"])
    return [data.get(c) if c != "cited_by" else count for c in SYNOPSIS_COLUMNS]


def emit(fmt: str, header: Sequence[str], rows: Iterable[Sequence[Any]], data: Any) -> None:
    """Print ``data`` as JSON, or ``rows`` as CSV or an aligned text table."""
    if fmt == "json":
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        writer.writerows([["" if v is None else v for v in row] for row in rows])
        sys.stdout.write(out.getvalue())
        return
    print(text_table(header, rows), end="")


def text_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """An aligned plain-text table.

    >>> print(text_table(["key", "count"], [["a/b", 2], ["c", 10]]), end="")
    key  count
    ---  -----
    a/b  2
    c    10
    """
    cells = [[str(h) for h in header]] + [["" if v is None else str(v) for v in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = [cells[0], ["-" * w for w in widths], *cells[1:]]
    return "".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n"
                   for row in lines)  # fmt: skip

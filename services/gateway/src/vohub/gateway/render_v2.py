"""Render apiv2 replies: synopsis objects with ISO 8601 ``Z`` times, and tables as CSV or VOTable.

A table is a list of :class:`Column` and rows of plain values (str, float, int or None).
The VOTable is hand-written VOTable 1.4 TABLEDATA, which astropy's parser reads back.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from vohub.common.timestamps import field_datetime
from vohub.gateway.render import relevant_urls, role_name
from vohub.v1 import archive_pb2

Value = str | float | int | None

VOTABLE_CONTENT_TYPE = "application/x-votable+xml; charset=utf-8"
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"


def iso_z(value: datetime | None) -> str | None:
    """An aware UTC datetime as ISO 8601 with ``Z`` (microseconds only when non-zero).

    >>> from datetime import UTC
    >>> iso_z(datetime(2015, 9, 15, 21, 43, 50, 860000, tzinfo=UTC))
    '2015-09-15T21:43:50.860000Z'
    """
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def synopsis_v2(s: archive_pb2.PacketSynopsis) -> dict[str, Any]:
    """One packet as an apiv2 object: times in ISO 8601 Z, positions with errors, both links."""
    return {
        "ivorn": s.ivorn,
        "stream": s.stream,
        "role": role_name(s.role),
        "version": s.version,
        "received": iso_z(field_datetime(s, "received")),
        "author_ivorn": s.author_ivorn if s.HasField("author_ivorn") else None,
        "author_datetime": iso_z(field_datetime(s, "author_datetime")),
        "positions": [
            {
                "ra": c.ra,
                "dec": c.dec,
                "error": c.error if c.HasField("error") else None,
                "time": iso_z(field_datetime(c, "time")),
            }
            for c in s.coords
        ],
        "refs": [
            {
                "ivorn": r.ref_ivorn,
                "cite_type": r.cite_type,
                "description": r.description if r.HasField("description") else None,
            }
            for r in s.refs
        ],
        "cited_by": list(s.cited_by),
        "relevant_urls": relevant_urls(s.ivorn, [r.ref_ivorn for r in s.refs]),
    }


@dataclass(frozen=True, slots=True)
class Column:
    """A table column: name, VOTable datatype (``char``, ``double``, ``long``), unit, UCD."""

    name: str
    datatype: str
    unit: str = ""
    ucd: str = ""
    description: str = ""


PACKET_COLUMNS = (
    Column("ivorn", "char", ucd="meta.id;meta.main", description="packet identifier"),
    Column("stream", "char", description="IVORN authority and path"),
    Column("role", "char", description="observation, prediction, utility or test"),
    Column("version", "char", description="VOEvent version"),
    Column("received", "char", ucd="time.processing", description="ISO 8601 UTC"),
    Column("author_ivorn", "char", description="Who/AuthorIVORN"),
    Column("author_datetime", "char", ucd="time.creation", description="ISO 8601 UTC"),
    Column("ra", "double", "deg", "pos.eq.ra;meta.main", "first position, ICRS"),
    Column("dec", "double", "deg", "pos.eq.dec;meta.main", "first position, ICRS"),
    Column("error", "double", "deg", "stat.error;pos.eq", "error-circle radius"),
    Column("event_time", "char", ucd="time.epoch", description="time of the first position"),
    Column("n_positions", "long", description="number of positions"),
    Column("n_refs", "long", description="citations this packet makes"),
    Column("n_cited_by", "long", description="archived packets citing this one"),
)


def packet_row(item: dict[str, Any]) -> list[Value]:
    """A synopsis object (as :func:`synopsis_v2` makes) as one table row."""
    first = item["positions"][0] if item["positions"] else {}
    return [
        item["ivorn"],
        item["stream"],
        item["role"],
        item["version"],
        item["received"],
        item["author_ivorn"],
        item["author_datetime"],
        first.get("ra"),
        first.get("dec"),
        first.get("error"),
        first.get("time"),
        len(item["positions"]),
        len(item["refs"]),
        len(item["cited_by"]),
    ]


def to_csv(columns: Sequence[Column], rows: Sequence[Sequence[Value]]) -> str:
    """A CSV table with a header line; None is an empty field.

    >>> print(to_csv([Column("key", "char"), Column("count", "long")], [["a,b", 2]]), end="")
    key,count
    "a,b",2
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([c.name for c in columns])
    writer.writerows([["" if v is None else v for v in row] for row in rows])
    return out.getvalue()


def to_votable(
    name: str, columns: Sequence[Column], rows: Sequence[Sequence[Value]], info: str = ""
) -> str:
    """A VOTable 1.4 document with one TABLEDATA table.

    >>> doc = to_votable("t", [Column("n", "long")], [[1]])
    >>> "<TR><TD>1</TD></TR>" in doc
    True
    """
    fields = "".join(_field(c) for c in columns)
    body = "".join("<TR>" + "".join(_cell(v) for v in row) + "</TR>\n" for row in rows)
    return (
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        '<VOTABLE version="1.4" xmlns="http://www.ivoa.net/xml/VOTable/v1.3" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n'
        f'<RESOURCE type="results"><INFO name="QUERY_STATUS" value="OK">{escape(info)}</INFO>\n'
        f"<TABLE name={quoteattr(name)}>\n{fields}<DATA><TABLEDATA>\n{body}"
        "</TABLEDATA></DATA></TABLE></RESOURCE></VOTABLE>\n"
    )


def _field(column: Column) -> str:
    attrs = f"name={quoteattr(column.name)} datatype={quoteattr(column.datatype)}"
    if column.datatype == "char":
        attrs += ' arraysize="*"'
    if column.unit:
        attrs += f" unit={quoteattr(column.unit)}"
    if column.ucd:
        attrs += f" ucd={quoteattr(column.ucd)}"
    description = f"<DESCRIPTION>{escape(column.description)}</DESCRIPTION>"
    return f"<FIELD {attrs}>{description if column.description else ''}</FIELD>\n"


def _cell(value: Value) -> str:
    if value is None:
        return "<TD/>"
    if isinstance(value, float):
        return f"<TD>{value!r}</TD>"
    return f"<TD>{escape(_xml_text(str(value)))}</TD>"


def _xml_text(text: str) -> str:
    """Drop characters XML 1.0 cannot carry (control characters other than tab and newline)."""
    return "".join(c for c in text if c >= " " or c in "\t\n\r")

"""Load packet synopses: the voevent row, its positions, its citations and who cites it."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from vohub.archive.query import cite, coord, voevent


@dataclass(frozen=True, slots=True)
class CoordInfo:
    """One stored position: degrees ICRS, error radius in degrees, UTC time."""

    ra: float
    dec: float
    error: float | None
    time: datetime | None


@dataclass(frozen=True, slots=True)
class CiteInfo:
    """One citation the packet makes."""

    ref_ivorn: str
    cite_type: str
    description: str | None


@dataclass(frozen=True, slots=True)
class Synopsis:
    """Everything the archive knows about one packet except its bytes."""

    ivorn: str
    received: datetime
    stream: str
    role: str
    version: str | None
    author_ivorn: str | None
    author_datetime: datetime | None
    coords: tuple[CoordInfo, ...] = ()
    refs: tuple[CiteInfo, ...] = ()
    cited_by: tuple[str, ...] = ()


def load(connection: Connection, ids: list[int]) -> dict[int, Synopsis]:
    """Synopses of the packets with these ids (five queries whatever their number)."""
    v = voevent.c
    heads = connection.execute(
        select(
            v.id,
            v.ivorn,
            v.received,
            v.stream,
            v.role,
            v.version,
            v.author_ivorn,
            v.author_datetime,
        ).where(v.id.in_(ids))
    ).all()
    coords = _coords(connection, ids)
    refs = _refs(connection, ids)
    cited_by = _cited_by(connection, [h.ivorn for h in heads])
    return {
        h.id: Synopsis(
            h.ivorn,
            h.received,
            h.stream,
            h.role,
            h.version,
            h.author_ivorn,
            h.author_datetime,
            tuple(coords[h.id]),
            tuple(refs[h.id]),
            tuple(cited_by[h.ivorn]),
        )
        for h in heads
    }


def _coords(connection: Connection, ids: list[int]) -> dict[int, list[CoordInfo]]:
    c = coord.c
    query = select(c.voevent_id, c.ra, c.dec, c.error, c.time).where(c.voevent_id.in_(ids))
    found: dict[int, list[CoordInfo]] = defaultdict(list)
    for row in connection.execute(query.order_by(c.id)):
        found[row.voevent_id].append(CoordInfo(row.ra, row.dec, row.error, row.time))
    return found


def _refs(connection: Connection, ids: list[int]) -> dict[int, list[CiteInfo]]:
    c = cite.c
    query = select(c.voevent_id, c.ref_ivorn, c.cite_type, c.description)
    found: dict[int, list[CiteInfo]] = defaultdict(list)
    for row in connection.execute(query.where(c.voevent_id.in_(ids)).order_by(c.id)):
        found[row.voevent_id].append(CiteInfo(row.ref_ivorn, row.cite_type, row.description))
    return found


def _cited_by(connection: Connection, ivorns: list[str]) -> dict[str, list[str]]:
    """Citing packets per cited IVORN, oldest authored first (no date last), then by id."""
    query = (
        select(cite.c.ref_ivorn, voevent.c.ivorn)
        .join(voevent, voevent.c.id == cite.c.voevent_id)
        .where(cite.c.ref_ivorn.in_(ivorns))
        .order_by(voevent.c.author_datetime.asc().nulls_last(), voevent.c.id)
    )
    found: dict[str, list[str]] = defaultdict(list)
    for ref, citing in connection.execute(query):
        if citing not in found[ref]:
            found[ref].append(citing)
    return found

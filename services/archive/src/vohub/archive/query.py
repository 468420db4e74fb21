"""Turn a :class:`PacketFilter`, an order and a page into SQLAlchemy selects on ``voevent``.

Position and citation filters are semi-joins (``id IN (SELECT ...)``), never joins, so a
packet matching through several positions or citations is counted and listed once and
``count`` always equals the length of the full list.  Text filters are literal: prefixes
become index-friendly ranges on byte-ordered columns, substrings use ``instr``/``strpos``
(case-sensitive on both backends, no LIKE wildcards to escape).
"""

from __future__ import annotations

import operator
from dataclasses import fields
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    Table,
    and_,
    bindparam,
    distinct,
    exists,
    func,
    literal_column,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.engine import Dialect

from vohub.archive.filters import ListKind, MapKind, Order, PacketFilter
from vohub.archive.models import Cite, Conflict, Coord, Rollup, VOEvent
from vohub.archive.sky import (
    authored_years,
    cone_condition,
    cone_params,
    in_pixels,
    normalised,
    pixel_table,
)

voevent = cast(Table, VOEvent.__table__)
coord = cast(Table, Coord.__table__)
cite = cast(Table, Cite.__table__)
rollup = cast(Table, Rollup.__table__)
conflict = cast(Table, Conflict.__table__)

#: A keyset position: the last row's order value and id.
After = tuple[Any, int]


def conditions(f: PacketFilter, dialect: Dialect) -> list[ColumnElement[bool]]:
    """The WHERE clauses on ``voevent`` for ``f`` (ANDed by the caller)."""
    where: list[ColumnElement[bool]] = []
    v = voevent.c
    if f.authored_since is not None:
        where.append(v.author_datetime >= _bound(f, "authored_since", v.author_datetime))
    if f.authored_until is not None:
        where.append(v.author_datetime <= _bound(f, "authored_until", v.author_datetime))
    if f.role:
        where.append(v.role.in_(bindparam("role", f.role, expanding=True)))
    if f.stream:
        where.append(v.stream.in_(bindparam("stream", f.stream, expanding=True)))
    if f.stream_prefix:
        where.append(or_(*(starts_with(v.stream, p) for p in f.stream_prefix)))
    if f.ivorn_prefix:
        where.append(or_(*(starts_with(v.ivorn, p) for p in f.ivorn_prefix)))
    where.extend(contains(v.ivorn, text, dialect) for text in f.ivorn_contains)
    where.extend(_coord_conditions(f, dialect))
    where.extend(_cite_conditions(f, dialect))
    return where


def _bound(f: PacketFilter, name: str, column: Any) -> Any:
    return bindparam(name, getattr(f, name), type_=column.type)


def starts_with(column: Any, prefix: str) -> ColumnElement[bool]:
    """``column`` starts with ``prefix``, literally, as a range the column's index serves."""
    if not prefix:
        return true()
    exact = func.substr(column, 1, len(prefix)) == prefix
    last = ord(prefix[-1])
    if last >= 0x10FFFF or 0xD7FF <= last < 0xE000:
        return and_(column >= prefix, exact)
    upper = prefix[:-1] + chr(last + 1)
    return and_(column >= prefix, column < upper, exact)


def contains(column: Any, text: str, dialect: Dialect) -> ColumnElement[bool]:
    """``column`` contains ``text`` literally and case-sensitively."""
    finder = func.strpos if dialect.name == "postgresql" else func.instr
    return finder(column, text) > 0


def _coord_conditions(f: PacketFilter, dialect: Dialect) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if f.coord is not None:
        has_coord = exists().where(coord.c.voevent_id == voevent.c.id)
        where.append(has_coord if f.coord else not_(has_coord))
    if f.touches_coords():
        where.append(voevent.c.id.in_(positions(f, dialect, joined=True)))
    return where


#: Position filters tested on one ``coord`` row: (filter field, column, comparison).
_ON_POSITION = (
    ("dec_gt", "dec", "gt"),
    ("dec_lt", "dec", "lt"),
    ("event_since", "time", "ge"),
    ("event_until", "time", "le"),
    ("authored_since", "author_datetime", "ge"),
    ("authored_until", "author_datetime", "le"),
)


def position_params(f: PacketFilter, dialect: Dialect) -> dict[str, Any]:
    """The values :func:`positions` binds, by name (the statement's shape is their names)."""
    if f.cone is None:
        params = {}
    else:
        years = authored_years(f.authored_since, f.authored_until)
        params = cone_params(dialect, normalised(f.cone), years)
    for name, _, _ in _ON_POSITION:
        value = getattr(f, name)
        if value is not None:
            params[name] = value
    return params


#: On PostgreSQL, a cone at least this wide (degrees; 12 % of the sky) whose packets are
#: joined to ``voevent`` is tested on every position, not scanned pixel range by pixel range.
#: The planner cannot know how many rows the ranges hold and guesses a few thousand, so it
#: joins them to ``voevent`` one packet at a time; for a cone holding much of the archive that
#: took 3.6 s (count) and 5.6 s (map) on a million packets, against 0.7 s and 0.8 s this way.
WIDE_CONE_DEG = 40.0


def positions(f: PacketFilter, dialect: Dialect, *, joined: bool = False) -> Select[Any]:
    """The packet ids of the ``coord`` rows meeting ``f``'s position and author-date filters.

    The packet's author date is copied onto its positions, so an authored range is tested in
    the same scan (the voevent-level test then only confirms it).  On PostgreSQL each of the
    cone's q3c pixel ranges (:func:`sky.pixel_table`) is one index scan (index-only: the
    index covers every column tested) in a LATERAL subquery; its ``OFFSET 0`` keeps the
    planner from flattening it into a join it would cost with guessed range selectivities
    (and then scan the whole table).  An authored range of a few years is scanned year by
    year (index ``ix_coord_year_q3c``), so a busy field's positions from other years are
    never read.  Values are bound by name (:func:`position_params`).  ``joined``: the ids
    will be joined to ``voevent`` (see :data:`WIDE_CONE_DEG`).
    """
    params = position_params(f, dialect)
    same: list[ColumnElement[bool]] = []
    if f.cone is not None:
        same.append(cone_condition(dialect, coord, params))
    for name, column_name, compare in _ON_POSITION:
        if name in params:
            column = coord.c[column_name]
            bound = bindparam(name, params[name], type_=column.type)
            same.append(getattr(operator, compare)(column, bound))
    if "cone_radius" not in params or (joined and params["cone_radius"] >= WIDE_CONE_DEG):
        return select(coord.c.voevent_id).where(*same)
    ranges = pixel_table(params)
    scan = select(coord.c.voevent_id).where(*in_pixels(coord, ranges), *same)
    inside = scan.offset(0).lateral("inside")
    return select(inside.c.voevent_id).select_from(ranges).join(inside, true())


#: Coord-only counts by shape (backend, bound names): built once, then only re-bound.
_COORD_COUNTS: dict[tuple[str, tuple[str, ...]], Select[Any]] = {}


def coord_count(f: PacketFilter, dialect: Dialect) -> tuple[Select[Any], dict[str, Any]]:
    """:func:`count_query` of a coord-only filter, as a reusable statement and its values.

    Building a SQLAlchemy statement costs more than running this one; every filter of one
    shape gets the same statement object, executed with its own values.
    """
    params = position_params(f, dialect)
    key = (dialect.name, tuple(params))
    statement = _COORD_COUNTS.get(key)
    if statement is None:
        statement = _COORD_COUNTS[key] = count_query(f, dialect)
    return statement, params


def _cite_conditions(f: PacketFilter, dialect: Dialect) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if f.ref_any is not None:
        makes = exists().where(cite.c.voevent_id == voevent.c.id)
        where.append(makes if f.ref_any else not_(makes))
    if f.cited is not None:
        cited = exists().where(cite.c.ref_ivorn == voevent.c.ivorn)
        where.append(cited if f.cited else not_(cited))
    if f.ref_exact:
        citing = select(cite.c.voevent_id).where(cite.c.ref_ivorn.in_(f.ref_exact))
        where.append(voevent.c.id.in_(citing))
    if f.ref_contains:
        found = or_(*(contains(cite.c.ref_ivorn, t, dialect) for t in f.ref_contains))
        where.append(voevent.c.id.in_(select(cite.c.voevent_id).where(found)))
    return where


def count_query(f: PacketFilter, dialect: Dialect) -> Select[Any]:
    """``SELECT count(*)`` of the packets matching ``f``.

    When every filter is a position or author-date filter, the distinct packets among the
    matching positions are counted without reading ``voevent`` (an index-only scan on
    PostgreSQL).
    """
    if f.is_coord_only():
        found = positions(f, dialect).subquery("found")
        return select(func.count(distinct(found.c.voevent_id)))
    return select(func.count()).select_from(voevent).where(*conditions(f, dialect))


def rollup_conditions(f: PacketFilter) -> list[ColumnElement[bool]]:
    """The WHERE clauses on ``rollup`` for a filter that :meth:`is_rollup_only`."""
    where: list[ColumnElement[bool]] = []
    if f.role:
        where.append(rollup.c.role.in_(f.role))
    if f.stream:
        where.append(rollup.c.stream.in_(f.stream))
    if f.stream_prefix:
        where.append(or_(*(starts_with(rollup.c.stream, p) for p in f.stream_prefix)))
    return where


def rollup_count_query(f: PacketFilter) -> Select[Any]:
    """The packet count of a rollup-only filter, summed from the rollup."""
    total = func.coalesce(func.sum(rollup.c.n), 0)
    return select(total).where(*rollup_conditions(f))


_ORDER_COLUMNS = {"id": "id", "author_datetime": "author_datetime", "ivorn": "ivorn"}


def order_by(order: Order) -> list[Any]:
    """ORDER BY terms: NULL author dates last ascending and first descending; id breaks ties."""
    name = order.value.removeprefix("-")
    column = voevent.c[_ORDER_COLUMNS[name]]
    descending = order.value.startswith("-")
    if name == "id":
        return [column.desc() if descending else column.asc()]
    if name == "ivorn":
        term = column.desc() if descending else column.asc()
    else:
        term = column.desc().nulls_first() if descending else column.asc().nulls_last()
    return [term, voevent.c.id.asc()]


def after_condition(order: Order, after: After) -> ColumnElement[bool]:
    """Rows strictly after ``after`` in ``order`` (keyset paging, NULL-aware)."""
    key, last_id = after
    v = voevent.c
    if order is Order.ID:
        return v.id > last_id
    if order is Order.ID_DESC:
        return v.id < last_id
    if order is Order.IVORN:
        return v.ivorn > str(key)
    if order is Order.IVORN_DESC:
        return v.ivorn < str(key)
    return _after_datetime(order is Order.AUTHOR_DATETIME_DESC, key, last_id)


def _after_datetime(descending: bool, key: datetime | None, last_id: int) -> ColumnElement[bool]:
    column = voevent.c.author_datetime
    later_same = and_(column == key, voevent.c.id > last_id)
    if key is None:
        null_tail = and_(column.is_(None), voevent.c.id > last_id)
        return or_(null_tail, column.is_not(None)) if descending else null_tail
    if descending:
        return or_(column < key, later_same)
    return or_(column > key, later_same, column.is_(None))


def list_query(
    f: PacketFilter,
    dialect: Dialect,
    *,
    order: Order,
    kind: ListKind,
    limit: int,
    offset: int = 0,
    after: After | None = None,
) -> Select[Any]:
    """One page of (id, ivorn, order key, count) rows; the count is 0 unless kind asks for it."""
    where = conditions(f, dialect)
    if after is not None:
        where.append(after_condition(order, after))
    key = voevent.c[_ORDER_COLUMNS[order.value.removeprefix("-")]]
    query = select(voevent.c.id, voevent.c.ivorn, key.label("key"), _kind_count(kind))
    query = query.where(*where).order_by(*order_by(order)).limit(limit)
    return query.offset(offset) if offset and after is None else query


#: The filter fields :func:`conditions` binds by name: one statement serves every filter that
#: sets no other field, whatever its values.
BOUND_FIELDS = ("authored_since", "authored_until", "role", "stream")

#: List statements of such filters by shape (backend, order, kind, offset or not, fields set).
_BOUND_LISTS: dict[tuple[Any, ...], Select[Any]] = {}


def bound_list(
    f: PacketFilter, dialect: Dialect, *, order: Order, kind: ListKind, limit: int, offset: int
) -> tuple[Select[Any], dict[str, Any]] | None:
    """:func:`list_query` as a reusable statement and its values, or None if ``f`` sets a field
    that is not in :data:`BOUND_FIELDS` (its statement is then built for its values).

    Building a statement costs more CPU than the database spends on a page of a stream.
    """
    if any(getattr(f, x.name) not in (None, ()) for x in fields(f) if x.name not in BOUND_FIELDS):
        return None
    params: dict[str, Any] = {x: getattr(f, x) for x in BOUND_FIELDS if getattr(f, x)}
    key = (dialect.name, order, kind, offset > 0, tuple(params))
    statement = _BOUND_LISTS.get(key)
    if statement is None:
        query = list_query(f, dialect, order=order, kind=kind, limit=1)
        query = query.limit(bindparam("limit", type_=Integer))
        if offset:
            query = query.offset(bindparam("offset", type_=Integer))
        statement = _BOUND_LISTS[key] = query
    params.update(limit=limit, offset=offset)
    return statement, params


def _kind_count(kind: ListKind) -> Any:
    if kind is ListKind.NREFS:
        owned = cite.c.voevent_id == voevent.c.id
        return select(func.count()).where(owned).scalar_subquery().label("n")
    if kind is ListKind.NCITES:
        received = cite.c.ref_ivorn == voevent.c.ivorn
        return select(func.count()).where(received).scalar_subquery().label("n")
    return literal_column("0").label("n")


def month_of(column: Any, dialect: Dialect) -> Any:
    """``YYYY-MM`` of a timestamp column, in UTC (NULL stays NULL).

    On SQLite, the first 7 characters of the stored fixed-width UTC text: ``strftime`` rounds
    to the millisecond, so 9999-12-31T23:59:59.9999 left its range and gave NULL (no date).
    """
    if dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM")
    return func.substr(column, 1, 7)


def map_query(f: PacketFilter, dialect: Dialect, kind: MapKind) -> Select[Any]:
    """(key, subkey, count) groups of the matching packets; subkey is '' except stream×role."""
    v = voevent.c
    keys: dict[MapKind, list[Any]] = {
        MapKind.STREAM: [v.stream],
        MapKind.ROLE: [v.role],
        MapKind.STREAM_ROLE: [v.stream, v.role],
        MapKind.AUTHORED_MONTH: [month_of(v.author_datetime, dialect)],
    }
    groups = keys[kind]
    query = select(*_labelled(groups), func.count().label("n"))
    return query.where(*conditions(f, dialect)).group_by(*groups)


def _labelled(groups: list[Any]) -> list[Any]:
    sub = groups[1] if len(groups) > 1 else literal_column("''")
    return [groups[0].label("key"), sub.label("sub")]


def rollup_map_query(f: PacketFilter, kind: MapKind) -> Select[Any]:
    """The same groups as :func:`map_query`, summed from the rollup (rollup-only filters)."""
    r = rollup.c
    keys: dict[MapKind, list[Any]] = {
        MapKind.STREAM: [r.stream],
        MapKind.ROLE: [r.role],
        MapKind.STREAM_ROLE: [r.stream, r.role],
        MapKind.AUTHORED_MONTH: [r.month],
    }
    groups = keys[kind]
    total = func.sum(r.n)
    query = select(*_labelled(groups), total.label("n"))
    query = query.where(*rollup_conditions(f)).group_by(*groups)
    return query.having(total > 0)

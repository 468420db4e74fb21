"""Index-backed cone search: q3c on PostgreSQL, an R*Tree of unit vectors on SQLite.

On SQLite every position is also stored as a point (x, y, z) on the unit sphere in the
``coord_sky`` R*Tree.  A cone is a spherical cap, and the cap's exact bounding box in
(x, y, z) has a closed form (below), so the R*Tree returns a small superset of the cap with
no special cases at RA 0/360 or at the poles; the exact great-circle test (a haversine, the
same quantity q3c compares) then keeps the true members.  A radius of 180 degrees or more is
the whole sky on both backends (:func:`search_radius`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    Table,
    and_,
    bindparam,
    cast,
    column,
    func,
    literal_column,
    select,
    table,
    true,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.expression import Subquery

#: Name of the SQL function registered on every SQLite connection (see :func:`sin2half`).
SIN2HALF = "vohub_sin2half"
#: The SQLite R*Tree holding each coord's unit vector, keyed by coord.id.
SKY_TABLE = "coord_sky"
#: Widening of the R*Tree box, far above float rounding, far below any useful radius.
_MARGIN = 1e-9
#: The largest radius searched: a cone of 180 degrees around any centre is the whole sky.
WHOLE_SKY_DEG = 180.0

coord_sky = table(
    SKY_TABLE,
    column("id"),
    column("x0"),
    column("x1"),
    column("y0"),
    column("y1"),
    column("z0"),
    column("z1"),
)


@dataclass(frozen=True, slots=True)
class Cone:
    """A cone on the sky: centre and radius in degrees (ICRS); 180 or more is the whole sky."""

    ra: float
    dec: float
    radius: float


def normalised(cone: Cone) -> Cone:
    """The same cone with its centre's RA in [0, 360).

    >>> normalised(Cone(-0.5, 10.0, 1.0)).ra
    359.5
    """
    return Cone(cone.ra % 360.0, cone.dec, cone.radius)


def search_radius(cone: Cone) -> float:
    """The radius searched: the cone's, at most :data:`WHOLE_SKY_DEG`.

    A larger one is the same whole sky; passed on to q3c as it is, it selects some other
    cap or nothing (q3c's distance test compares sin² of half the radius).

    >>> search_radius(Cone(0.0, 0.0, 1.5)), search_radius(Cone(0.0, 0.0, 360.0))
    (1.5, 180.0)
    """
    return min(cone.radius, WHOLE_SKY_DEG)


def unit_vector(ra: float, dec: float) -> tuple[float, float, float]:
    """The point on the unit sphere at (ra, dec) degrees.

    >>> [round(v, 6) for v in unit_vector(90.0, 0.0)]
    [0.0, 1.0, 0.0]
    """
    a, d = math.radians(ra), math.radians(dec)
    return (math.cos(d) * math.cos(a), math.cos(d) * math.sin(a), math.sin(d))


def sin2half(ra1: float, dec1: float, ra2: float, dec2: float) -> float:
    """sin²(d/2) of the great-circle distance d between two positions (haversine).

    >>> round(sin2half(0.0, 0.0, 0.0, 60.0), 12)
    0.25
    """
    d1, d2 = math.radians(dec1), math.radians(dec2)
    half_ddec = math.sin((d2 - d1) / 2)
    half_dra = math.sin(math.radians(ra2 - ra1) / 2)
    return half_ddec * half_ddec + math.cos(d1) * math.cos(d2) * half_dra * half_dra


def cap_box(cone: Cone) -> tuple[tuple[float, float], ...]:
    """The (min, max) of x, y and z over the spherical cap, slightly widened.

    Along axis e the cap's points make angles with e from θ - r to θ + r (clipped to
    [0, π]), θ being the angle between e and the centre; cos of those is the range.

    >>> box = cap_box(Cone(0.0, 90.0, 10.0))
    >>> [round(v, 4) for v in box[2]]
    [0.9848, 1.0]
    """
    r = math.radians(search_radius(cone))
    ranges = []
    for c in unit_vector(cone.ra, cone.dec):
        theta = math.acos(max(-1.0, min(1.0, c)))
        low = math.cos(min(math.pi, theta + r)) - _MARGIN
        high = math.cos(max(0.0, theta - r)) + _MARGIN
        ranges.append((low, high))
    return tuple(ranges)


#: q3c_radial_query_it describes a cone's cover as this many [low, high) ranges of pixels
#: fully inside it (flag 1) and as many partly inside (flag 0); unused ones are empty.
Q3C_RANGES = 50
#: An authored range spanning at most this many calendar years is scanned year by year.
MAX_YEARS = 8


def authored_years(since: datetime | None, until: datetime | None) -> range | None:
    """The UTC calendar years an authored range spans, if few enough to scan one by one.

    >>> authored_years(datetime(2015, 6, 1, tzinfo=UTC), datetime(2016, 6, 1, tzinfo=UTC))
    range(2015, 2017)
    >>> authored_years(datetime(2000, 1, 1, tzinfo=UTC), None) is None
    True
    """
    if since is None or until is None:
        return None
    first, last = _utc(since).year, _utc(until).year
    if last < first or last - first >= MAX_YEARS:
        return None
    return range(first, last + 1)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment


def authored_year(column: Any) -> ColumnElement[int]:
    """The UTC calendar year of a timestamp column, exactly as migration 0005 indexes it."""
    utc = func.timezone(literal_column("'UTC'"), column)
    return cast(func.date_part(literal_column("'year'"), utc), Integer)


def cone_params(dialect: Dialect, cone: Cone, years: range | None = None) -> dict[str, Any]:
    """The bound values of :func:`cone_condition` and :func:`pixel_table`, by name.

    ``years`` (PostgreSQL) are the authored years to scan one by one (:func:`authored_years`).

    >>> from sqlalchemy.dialects import sqlite, postgresql
    >>> sorted(cone_params(sqlite.dialect(), Cone(1.0, 2.0, 3.0)))[-3:]
    ['cone_dec', 'cone_limit', 'cone_ra']
    >>> sorted(cone_params(postgresql.dialect(), Cone(1.0, 2.0, 3.0), range(2015, 2017)))
    ['cone_dec', 'cone_ra', 'cone_radius', 'year_first', 'year_last']
    """
    params: dict[str, Any] = {"cone_ra": cone.ra, "cone_dec": cone.dec}
    if dialect.name == "postgresql":
        params["cone_radius"] = search_radius(cone)
        if years is not None:
            params["year_first"], params["year_last"] = years[0], years[-1]
        return params
    for axis, (low, high) in zip("xyz", cap_box(cone), strict=True):
        params[f"box_{axis}0"], params[f"box_{axis}1"] = low, high
    params["cone_limit"] = math.sin(math.radians(search_radius(cone)) / 2) ** 2
    return params


def pixel_table(params: dict[str, Any]) -> Subquery:
    """The q3c pixel ranges covering the cone of ``params``, as a table ``pix(lo, hi)``.

    These are the ranges ``q3c_radial_query`` tests, computed inside the statement (no
    round trip of their own) and returned as rows, so that each is one index range scan
    instead of one of a hundred OR-ed range tests that the planner costs one by one (about
    5 ms per query).  With years in ``params`` the table is ``pix(lo, hi, yr)``: every range
    once per authored year.
    """
    ra, dec, radius = (_bound(params, name) for name in ("cone_ra", "cone_dec", "cone_radius"))
    flags = func.generate_series(0, 1).table_valued("f").render_derived(name="flags")
    k = func.generate_series(0, Q3C_RANGES - 1).table_valued("k").render_derived(name="k")
    low = func.q3c_radial_query_it(ra, dec, radius, 2 * k.c.k, flags.c.f).label("lo")
    high = func.q3c_radial_query_it(ra, dec, radius, 2 * k.c.k + 1, flags.c.f).label("hi")
    # OFFSET 0: each bound is computed once, not again in every index scan's condition.
    bounds = select(low, high).select_from(flags.join(k, true())).offset(0).subquery("bounds")
    ranges = select(bounds.c.lo, bounds.c.hi).where(bounds.c.lo < bounds.c.hi)
    if "year_first" in params:
        first = bindparam("year_first", params["year_first"], type_=Integer())
        last = bindparam("year_last", params["year_last"], type_=Integer())
        years = func.generate_series(first, last).table_valued("yr").render_derived(name="y")
        ranges = ranges.add_columns(years.c.yr).select_from(bounds.join(years, true()))
    return ranges.subquery("pix")


def in_pixels(coord: Table, ranges: Subquery) -> list[ColumnElement[bool]]:
    """``coord``'s q3c pixel (and authored year) lie in the current row of ``ranges``.

    Each row is then one index range scan: of the q3c index, or with a year, of the index
    keyed by (authored year, pixel).
    """
    ipix = func.q3c_ang2ipix(coord.c.ra, coord.c.dec)
    where = [ipix >= ranges.c.lo, ipix < ranges.c.hi]
    if "yr" in ranges.c:
        where.insert(0, authored_year(coord.c.author_datetime) == ranges.c.yr)
    return where


def _bound(params: dict[str, Any], name: str) -> Any:
    return bindparam(name, params[name], type_=Float())


def cone_condition(dialect: Dialect, coord: Table, params: dict[str, Any]) -> ColumnElement[bool]:
    """A WHERE clause on ``coord`` rows lying in the cone of ``params`` (:func:`cone_params`).

    On PostgreSQL this is only q3c's exact distance test: the caller scans the index over
    the cone's pixel ranges (:func:`pixel_table`, :func:`in_pixels`), which selects the
    rows ``q3c_radial_query`` selects.  On SQLite it goes through the R*Tree.  Values are
    bound by name, so one statement serves every cone.
    """
    ra, dec = _bound(params, "cone_ra"), _bound(params, "cone_dec")
    if dialect.name == "postgresql":
        inside = func.power(func.sin(func.radians(_bound(params, "cone_radius")) / 2), 2)
        return func.q3c_sindist(coord.c.ra, coord.c.dec, ra, dec) < inside
    box = {key: _bound(params, key) for key in params if key.startswith("box_")}
    in_box = select(coord_sky.c.id).where(
        coord_sky.c.x1 >= box["box_x0"],
        coord_sky.c.x0 <= box["box_x1"],
        coord_sky.c.y1 >= box["box_y0"],
        coord_sky.c.y0 <= box["box_y1"],
        coord_sky.c.z1 >= box["box_z0"],
        coord_sky.c.z0 <= box["box_z1"],
    )
    distance = getattr(func, SIN2HALF)(coord.c.ra, coord.c.dec, ra, dec)
    # Strictly inside, as q3c_radial_query compares.
    return and_(coord.c.id.in_(in_box), distance < _bound(params, "cone_limit"))


def sky_rows(coords: list[tuple[int, float, float]]) -> list[dict[str, float]]:
    """R*Tree rows (point boxes) for ``(coord_id, ra, dec)`` triples.

    >>> sky_rows([(7, 0.0, 90.0)])[0]["z0"]
    1.0
    """
    rows = []
    for coord_id, ra, dec in coords:
        x, y, z = unit_vector(ra, dec)
        rows.append({"id": coord_id, "x0": x, "x1": x, "y0": y, "y1": y, "z0": z, "z1": z})
    return rows

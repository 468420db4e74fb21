"""Cone search: index-backed on both backends, and exact against a brute-force reference."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, text

from vohub.archive import schema
from vohub.archive.filters import PacketFilter
from vohub.archive.query import count_query
from vohub.archive.sky import Cone, cap_box, unit_vector
from vohub.archive.store import Store
from vohub.testing.archive import make_packet

#: A 3 degree cone around a crowded spot of the random sky, counted.
CONE_COUNT = PacketFilter(cone=Cone(10.0, 20.0, 3.0))


def separation(ra1: float, dec1: float, ra2: float, dec2: float) -> float:
    """Great-circle distance in degrees by the Vincenty formula (independent of sky.py)."""
    a1, d1, a2, d2 = map(math.radians, (ra1, dec1, ra2, dec2))
    dra = a2 - a1
    num = math.hypot(
        math.cos(d2) * math.sin(dra),
        math.cos(d1) * math.sin(d2) - math.sin(d1) * math.cos(d2) * math.cos(dra),
    )
    den = math.sin(d1) * math.sin(d2) + math.cos(d1) * math.cos(d2) * math.cos(dra)
    return math.degrees(math.atan2(num, den))


def sky(seed: int, n: int) -> list[list[tuple[float, float]]]:
    """Packets of one to three positions, crowded near the poles and RA 0 as well as uniform."""
    rng = random.Random(seed)
    packets = []
    for _ in range(n):
        spots = []
        for _ in range(rng.randint(1, 3)):
            kind = rng.random()
            if kind < 0.2:
                ra, dec = rng.uniform(0, 360), rng.choice([-1, 1]) * rng.uniform(85, 90)
            elif kind < 0.4:
                ra, dec = rng.uniform(-3, 3) % 360, rng.uniform(-10, 10)
            else:
                ra, dec = rng.uniform(0, 360), math.degrees(math.asin(rng.uniform(-1, 1)))
            spots.append((ra, dec))
        packets.append(spots)
    return packets


def load_sky(engine: Engine, empty: Callable[[Engine], None]) -> Store:
    """Empty the archive and store the random sky's packets."""
    empty(engine)
    store = Store(engine)
    store.ingest_packets(
        [
            (
                make_packet(f"ivo://vohub.test/sky#{i}", positions=[(a, d, 0.1) for a, d in spots]),
                None,
            )
            for i, spots in enumerate(sky(seed=20161031, n=600))
        ]
    )
    return store


@pytest.fixture
def random_sky(
    backend: str, migrated: Callable[[str, str], Engine], empty: Callable[[Engine], None]
) -> tuple[Store, list[list[tuple[float, float]]]]:
    return load_sky(migrated(backend, "sky"), empty), sky(seed=20161031, n=600)


def test_cones_match_brute_force(
    random_sky: tuple[Store, list[list[tuple[float, float]]]],
) -> None:
    store, packets = random_sky
    rng = random.Random(7)
    centres = [(0.0, 90.0), (180.0, -90.0), (0.0, 0.0), (359.5, 3.0), (0.5, -3.0)]
    centres += [(rng.uniform(0, 360), rng.uniform(-90, 90)) for _ in range(25)]
    for ra, dec in centres:
        for radius in (0.5, 3.0, 12.0, 60.0):
            expected = [
                f"ivo://vohub.test/sky#{i}"
                for i, spots in enumerate(packets)
                if any(separation(ra, dec, a, d) < radius for a, d in spots)
            ]
            f = PacketFilter(cone=Cone(ra, dec, radius))
            found = [r.ivorn for r in store.list_page(f, limit=1000).rows]
            assert found == expected, (ra, dec, radius)
            assert store.count(f) == len(expected)


def test_cap_box_contains_the_cap() -> None:
    rng = random.Random(3)
    for _ in range(2000):
        cone = Cone(rng.uniform(0, 360), rng.uniform(-90, 90), rng.uniform(0, 30))
        ra, dec = rng.uniform(0, 360), rng.uniform(-90, 90)
        if separation(cone.ra, cone.dec, ra, dec) < cone.radius:
            point = unit_vector(ra, dec)
            for (low, high), value in zip(cap_box(cone), point, strict=True):
                assert low <= value <= high


def plan(engine: Engine, f: PacketFilter = CONE_COUNT) -> str:
    """The plan of ``f``'s count, one line per step (sequential scans off on PostgreSQL)."""
    query = count_query(f, engine.dialect)
    compiled = query.compile(engine, compile_kwargs={"literal_binds": True})
    prefix = "EXPLAIN" if engine.dialect.name == "postgresql" else "EXPLAIN QUERY PLAN"
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SET enable_seqscan = off"))
        rows = connection.execute(text(f"{prefix} {compiled}")).all()
    return "\n".join(str(row[-1]) for row in rows)  # the step's text: last column on both


def test_cone_uses_the_sky_index(engine: Engine, empty: Callable[[Engine], None]) -> None:
    """The plan reaches coord through q3c's index (PostgreSQL) or the R*Tree (SQLite)."""
    load_sky(engine, empty)
    schema.optimize(engine)  # fresh statistics: the planner sees 600 packets, not an empty table
    found = plan(engine)
    if engine.dialect.name == "postgresql":
        assert "ix_coord_q3c" in found
    else:
        assert "VIRTUAL TABLE INDEX" in found
        assert "SCAN coord\n" not in found + "\n"


@pytest.mark.postgres
def test_pixel_ranges_select_what_q3c_radial_query_selects(
    migrated: Callable[[str, str], Engine], empty: Callable[[Engine], None]
) -> None:
    engine = load_sky(migrated("postgresql", "sky"), empty).engine
    plain = text(
        "SELECT count(DISTINCT voevent_id) FROM coord"
        " WHERE q3c_radial_query(ra, dec, :ra, :dec, :radius)"
    )
    rng = random.Random(11)
    with engine.connect() as connection:
        for _ in range(40):
            cone = Cone(rng.uniform(0, 360), rng.uniform(-90, 90), rng.choice([0.1, 3.0, 40.0]))
            expected = connection.execute(
                plain, {"ra": cone.ra, "dec": cone.dec, "radius": cone.radius}
            ).scalar_one()
            found = connection.execute(count_query(PacketFilter(cone=cone), engine.dialect))
            assert found.scalar_one() == expected, cone


@pytest.mark.postgres
def test_cone_and_authored_range_count_is_one_index_only_scan(
    migrated: Callable[[str, str], Engine], empty: Callable[[Engine], None]
) -> None:
    engine = load_sky(migrated("postgresql", "sky"), empty).engine
    schema.optimize(engine)  # vacuumed: the visibility map lets the scan skip the heap
    f = replace(CONE_COUNT, authored_since=datetime(2015, 1, 1, tzinfo=UTC))
    found = plan(engine, f)
    assert "Index Only Scan using ix_coord_q3c on coord" in found
    assert "voevent" not in found


@pytest.mark.postgres
def test_a_wide_cone_joined_to_packets_is_tested_on_every_position(
    migrated: Callable[[str, str], Engine], empty: Callable[[Engine], None]
) -> None:
    """Joined to ``voevent`` (for the role), a narrow cone is scanned by pixel ranges and a
    wide one tested on each position; the brute-force test above checks both find the same."""
    engine = load_sky(migrated("postgresql", "sky"), empty).engine
    narrow = PacketFilter(cone=Cone(10.0, 20.0, 3.0), role=("observation",))
    wide = replace(narrow, cone=Cone(10.0, 20.0, 60.0))
    assert "Function Scan on generate_series" in plan(engine, narrow)
    assert "Function Scan on generate_series" not in plan(engine, wide)


def test_cone_and_authored_range_year_by_year_match_brute_force(
    backend: str, migrated: Callable[[str, str], Engine], empty: Callable[[Engine], None]
) -> None:
    """Authored ranges across year ends, within and beyond MAX_YEARS, give exact counts.

    Positions are authored near New Year (in UTC and in other offsets); PostgreSQL scans
    the short ranges year by year, the long ones through the q3c index alone.
    """
    engine = migrated(backend, "sky")
    empty(engine)
    rng = random.Random(5)
    spots = [(rng.uniform(8, 12), rng.uniform(18, 22)) for _ in range(300)]
    moments = [
        datetime(2010 + rng.randrange(12), 1, 1, tzinfo=UTC) + timedelta(hours=rng.uniform(-30, 30))
        for _ in spots
    ]
    store = Store(engine)
    store.ingest_packets(
        [
            (
                make_packet(f"ivo://vohub.test/ny#{i}", author_datetime=t, positions=[(a, d, 0.1)]),
                None,
            )
            for i, ((a, d), t) in enumerate(zip(spots, moments, strict=True))
        ]
    )
    east = timezone(timedelta(hours=10))
    ranges = [
        (datetime(2014, 12, 31, 23, tzinfo=UTC), datetime(2015, 1, 1, 1, tzinfo=UTC)),
        (datetime(2015, 1, 1, 5, tzinfo=east), datetime(2016, 1, 1, 9, 59, tzinfo=east)),
        (datetime(2012, 6, 1, tzinfo=UTC), datetime(2013, 6, 1, tzinfo=UTC)),
        (datetime(2010, 1, 1, tzinfo=UTC), datetime(2021, 12, 31, tzinfo=UTC)),
        (datetime(2016, 1, 1, tzinfo=UTC), datetime(2015, 1, 1, tzinfo=UTC)),
    ]
    cone = Cone(10.0, 20.0, 1.5)
    for since, until in ranges:
        expected = sum(
            separation(cone.ra, cone.dec, a, d) < cone.radius and since <= t <= until
            for (a, d), t in zip(spots, moments, strict=True)
        )
        f = PacketFilter(cone=cone, authored_since=since, authored_until=until)
        assert store.count(f) == expected, (since, until)
        assert len(store.list_page(f, limit=1000).rows) == expected


@pytest.mark.postgres
def test_cone_and_short_authored_range_scan_year_by_year(
    migrated: Callable[[str, str], Engine], empty: Callable[[Engine], None]
) -> None:
    engine = load_sky(migrated("postgresql", "sky"), empty).engine
    schema.optimize(engine)
    since, until = datetime(2015, 3, 1, tzinfo=UTC), datetime(2016, 3, 1, tzinfo=UTC)
    found = plan(engine, replace(CONE_COUNT, authored_since=since, authored_until=until))
    assert "Index Only Scan using ix_coord_year_q3c on coord" in found

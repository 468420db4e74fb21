"""The query suite: every filter, order, page, map and synopsis, identical on both backends.

One hand-built archive of 18 packets is loaded once per backend; each assertion gives the
expected packets by number (their position in ``DATASET``, 1-based, which is also their id
order), so both backends are held to the same explicit answers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, func, select

from vohub.archive.errors import PacketNotFound
from vohub.archive.filters import ListKind, MapKind, Order, PacketFilter
from vohub.archive.query import voevent
from vohub.archive.sky import Cone
from vohub.archive.store import MapRow, Store
from vohub.testing.archive import make_packet
from vohub.voevent.model import Packet


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


SWIFT = "ivo://nasa.gsfc.gcn/SWIFT#"
TEST = "ivo://voevent.organization.tld/TEST#"
T1, T2, T12 = at("2015-09-15T21:18:00"), at("2015-09-15T21:24:37"), at("2016-09-19T10:00:00")
DATASET: list[Packet] = [
    make_packet(
        f"{SWIFT}BAT_GRB_Pos_1-1",
        author_datetime=at("2015-09-15T21:18:24.860000"),
        positions=[(319.6588, -34.9131, 0.05, T1)],
    ),
    make_packet(
        f"{SWIFT}XRT_Pos_1-2",
        author_datetime=at("2015-09-15T21:43:50"),
        positions=[(319.66, -34.91, 0.001, T2)],
        citations=[(f"{SWIFT}BAT_GRB_Pos_1-1", "followup", "XRT for BAT")],
    ),
    make_packet(
        f"{SWIFT}UVOT_Pos_1-3",
        author_datetime=at("2015-09-15T22:00:00"),
        citations=[(f"{SWIFT}BAT_GRB_Pos_1-1", "followup"), (f"{SWIFT}XRT_Pos_1-2", "supersedes")],
    ),
    make_packet(
        f"{TEST}multi",
        role="test",
        author_datetime=at("2015-01-10T00:00:00"),
        positions=[(10.0, 20.0, 1.0), (10.5, 20.2, 1.0), (200.0, -50.0, 1.0)],
    ),
    make_packet(
        f"{TEST}wrap_east",
        role="test",
        author_datetime=at("2015-01-11T00:00:00"),
        positions=[(359.8, 0.0, 0.1)],
    ),
    make_packet(
        f"{TEST}wrap_west",
        role="utility",
        author_datetime=at("2015-01-12T00:00:00"),
        positions=[(0.3, 0.1, 0.1)],
    ),
    make_packet(f"{TEST}north", role="utility", positions=[(123.0, 89.5, 0.1)]),
    make_packet(
        f"{TEST}north2",
        role="utility",
        author_datetime=at("2016-11-01T00:00:00"),
        positions=[(303.0, 89.6, 0.1)],
    ),
    make_packet(
        f"{TEST}south",
        role="test",
        author_datetime=at("2015-02-01T00:00:00"),
        positions=[(45.0, -89.9, 0.1)],
    ),
    make_packet(f"{TEST}pct%_lit", role="test", author_datetime=at("2015-02-02T00:00:00")),
    make_packet(f"{TEST}PCT_upper", role="test"),
    make_packet(
        "ivo://gaia.cam.uk/alerts#Gaia16bsf",
        author_datetime=at("2016-09-20T00:00:00"),
        positions=[(100.0, 30.0, 0.0001, T12)],
        coord_system="TDB-ICRS-BARY",
    ),
    make_packet(
        "ivo://voevent.4pisky.org/ASASSN#ASASSN-16xx",
        author_datetime=at("2016-09-21T00:00:00"),
        positions=[(100.5, 30.0, 0.001)],
    ),
    make_packet(
        "ivo://nasa.gsfc.gcn/KONUS#Lightcurve_1",
        author_datetime=at("2015-07-10"),
        positions=[(0.0, 0.0, 0.0)],
        params=[("Coords_String", "unavailable/inappropriate")],
    ),
    make_packet(
        "ivo://com.dc3/dc3.broker#BrokerTest-1",
        role="test",
        author_datetime=at("2014-04-27T01:51:12"),
        positions=[(50.0, 50.0, 1.0)],
    ),
    make_packet(
        "ivo://nasa.gsfc.gcnx/OTHER#x",
        role="prediction",
        author_datetime=at("2012-09-01T00:00:00"),
        positions=[(50.0, 50.0, 1.0)],
        citations=[("ivo://not.archived/x#y", "followup")],
    ),
    make_packet(
        "ivo://voevent.organization.tld/TEST_alt#1",
        role="test",
        author_datetime=at("2015-01-10T00:00:00"),
        citations=[(f"{TEST}multi", "retraction")],
    ),
    make_packet(
        f"{TEST}badcoords",
        role="test",
        author_datetime=at("2015-02-03T00:00:00"),
        positions=[(1.0, 2.0, 0.1)],
        coord_system="GPS-ICRS-TOPO",
    ),
]
RECEIVED = at("2026-01-01T00:00:00")


def ivorns(*numbers: int) -> list[str]:
    return [DATASET[n - 1].ivorn for n in numbers]


@pytest.fixture
def archive(
    backend: str, migrated: Callable[[str, str], Engine], empty: Callable[[Engine], None]
) -> Store:
    """A store holding ``DATASET`` (loaded once per backend)."""
    engine = migrated(backend, "query")
    with engine.connect() as connection:
        loaded = connection.execute(select(func.count()).select_from(voevent)).scalar_one()
    if loaded != len(DATASET):
        empty(engine)
        Store(engine).ingest_packets([(p, RECEIVED) for p in DATASET])
    return Store(engine)


def matches(store: Store, **filters: object) -> list[str]:
    """IVORNs of the whole list for the filter, after checking count agrees."""
    f = PacketFilter(**filters)  # type: ignore[arg-type]
    rows = store.list_page(f, limit=1000).rows
    assert store.count(f) == len(rows)
    return [r.ivorn for r in rows]


def test_count_everything(archive: Store) -> None:
    assert archive.count(PacketFilter()) == 18
    assert matches(archive) == ivorns(*range(1, 19))


@pytest.mark.parametrize(
    ("cone", "expected"),
    [
        ((10.0, 20.0, 1.0), [4]),  # two positions inside: counted and listed once
        ((200.0, -50.0, 1.0), [4]),
        ((0.0, 0.0, 0.5), [5, 6]),  # across RA 0/360; GCN's dummy (0, 0) was dropped
        ((359.9, 0.0, 0.25), [5]),
        ((0.1, 0.0, 0.25), [6]),
        ((-0.1, 0.0, 0.25), [5]),  # centre RA outside [0, 360) is normalised
        ((0.0, 90.0, 1.0), [7, 8]),
        ((123.0, 89.5, 0.95), [7, 8]),  # over the pole: 0.9 degrees apart
        ((123.0, 89.5, 0.85), [7]),
        ((200.0, -90.0, 0.2), [9]),
        ((100.25, 30.0, 0.5), [12, 13]),
        ((50.0, 50.0, 2.0), [16]),  # com.dc3/dc3.broker positions are never stored
        ((319.66, -34.91, 0.1), [1, 2]),
        ((1.0, 2.0, 0.5), []),  # unsupported coordinate system: positions dropped
        ((10.0, 20.0, 0.0), []),
        ((0.0, 0.0, 180.0), [1, 2, 4, 5, 6, 7, 8, 9, 12, 13, 16]),
        # Past 180 degrees still the whole sky (q3c got 360 as is and found nothing).
        ((0.0, 0.0, 200.0), [1, 2, 4, 5, 6, 7, 8, 9, 12, 13, 16]),
        ((100.0, 30.0, 360.0), [1, 2, 4, 5, 6, 7, 8, 9, 12, 13, 16]),
        ((0.0, 0.0, 1e6), [1, 2, 4, 5, 6, 7, 8, 9, 12, 13, 16]),
    ],
)
def test_cone(archive: Store, cone: tuple[float, float, float], expected: list[int]) -> None:
    assert matches(archive, cone=Cone(*cone)) == ivorns(*expected)


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"cone": Cone(10.0, 20.0, 1.0), "dec_lt": 20.1}, [4]),
        ({"cone": Cone(10.0, 20.0, 1.0), "dec_gt": 20.1}, [4]),
        ({"cone": Cone(10.0, 20.0, 0.3), "dec_gt": 20.1}, []),  # one and the same position
        ({"dec_gt": 20.1}, [4, 7, 8, 12, 13, 16]),
        ({"dec_lt": -80.0}, [9]),
        ({"dec_gt": -35.0, "dec_lt": -34.9}, [1, 2]),
        ({"coord": True}, [1, 2, 4, 5, 6, 7, 8, 9, 12, 13, 16]),
        ({"coord": False}, [3, 10, 11, 14, 15, 17, 18]),
        ({"event_since": at("2015-09-15T21:20:00")}, [2, 12]),
        ({"event_until": at("2015-09-15T21:20:00")}, [1]),
        ({"event_since": T2, "event_until": T2}, [2]),
        ({"ref_any": True}, [2, 3, 16, 17]),
        ({"ref_any": False}, [1, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 18]),
        ({"cited": True}, [1, 2, 4]),
        ({"cited": False}, [3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18]),
        ({"ref_exact": (f"{SWIFT}BAT_GRB_Pos_1-1",)}, [2, 3]),
        ({"ref_exact": (f"{SWIFT}XRT_Pos_1-2", "ivo://not.archived/x#y")}, [3, 16]),
        ({"ref_contains": ("BAT_GRB",)}, [2, 3]),
        ({"ref_contains": ("not.archived", "TEST#multi")}, [16, 17]),
        ({"ref_contains": ("%",)}, []),  # literal, not a wildcard
        ({"ivorn_contains": ("_",)}, [1, 2, 3, 5, 6, 10, 11, 14, 17]),
        ({"ivorn_contains": ("%",)}, [10]),
        ({"ivorn_contains": ("pct",)}, [10]),  # case-sensitive
        ({"ivorn_contains": ("PCT",)}, [11]),
        ({"ivorn_contains": ("TEST", "wrap")}, [5, 6]),  # AND
        ({"ivorn_prefix": (TEST,)}, [4, 5, 6, 7, 8, 9, 10, 11, 18]),
        ({"ivorn_prefix": ("ivo://voevent.organization.tld/TEST_",)}, [17]),
        ({"ivorn_prefix": ("ivo://nasa.gsfc.gcn/", "ivo://gaia")}, [1, 2, 3, 12, 14]),  # OR
        ({"ivorn_prefix": ("",)}, list(range(1, 19))),
        ({"stream_prefix": ("nasa.gsfc.gcn",)}, [1, 2, 3, 14, 16]),
        ({"stream": ("nasa.gsfc.gcn/SWIFT", "gaia.cam.uk/alerts")}, [1, 2, 3, 12]),
        ({"stream": ("nasa.gsfc.gcn#SWIFT",)}, []),
        ({"role": ("test", "utility")}, [4, 5, 6, 7, 8, 9, 10, 11, 15, 17, 18]),
        ({"role": ("prediction",)}, [16]),
        ({"authored_since": at("2015-09-15T21:43:50")}, [2, 3, 8, 12, 13]),  # inclusive
        ({"authored_until": at("2015-01-10T00:00:00")}, [4, 15, 16, 17]),  # inclusive
        ({"authored_since": at("2015-01-01"), "role": ("test",), "coord": True}, [4, 5, 9]),
        ({"cone": Cone(319.66, -34.91, 0.1), "authored_since": at("2015-09-15T21:43:50")}, [2]),
        ({"cone": Cone(319.66, -34.91, 0.1), "authored_until": at("2015-09-15T21:43:49")}, [1]),
        (
            {"cone": Cone(0.0, 0.0, 180.0), "authored_since": at("2015-09-15T21:43:50")},
            [2, 8, 12, 13],
        ),
        ({"dec_gt": -90.0, "authored_until": at("2015-01-10T00:00:00")}, [4, 16]),
    ],
)
def test_filter(archive: Store, filters: dict[str, object], expected: list[int]) -> None:
    assert matches(archive, **filters) == ivorns(*expected)


BY_DATE = [16, 15, 4, 17, 5, 6, 9, 10, 18, 14, 1, 2, 3, 12, 13, 8, 7, 11]
BY_DATE_DESC = [7, 11, 8, 13, 12, 3, 2, 1, 14, 18, 10, 9, 6, 5, 4, 17, 15, 16]
BY_IVORN = sorted(range(1, 19), key=lambda n: DATASET[n - 1].ivorn.encode())
ORDERS = {
    Order.ID: list(range(1, 19)),
    Order.ID_DESC: list(range(18, 0, -1)),
    Order.AUTHOR_DATETIME: BY_DATE,
    Order.AUTHOR_DATETIME_DESC: BY_DATE_DESC,
    Order.IVORN: BY_IVORN,
    Order.IVORN_DESC: BY_IVORN[::-1],
}


@pytest.mark.parametrize("order", list(Order))
def test_order_offset_and_cursor_pages(archive: Store, order: Order) -> None:
    expected = ivorns(*ORDERS[order])
    assert [r.ivorn for r in archive.list_page(PacketFilter(), order=order).rows] == expected
    by_offset = [
        r.ivorn
        for start in range(0, 18, 4)
        for r in archive.list_page(PacketFilter(), order=order, limit=4, offset=start).rows
    ]
    assert by_offset == expected
    by_cursor, cursor = [], ""
    for _ in range(10):
        page = archive.list_page(PacketFilter(), order=order, limit=4, cursor_text=cursor)
        by_cursor += [r.ivorn for r in page.rows]
        cursor = page.next_cursor
        if not cursor:
            break
    assert by_cursor == expected


def test_offset_past_the_end_and_limit_zero(archive: Store) -> None:
    assert archive.list_page(PacketFilter(), offset=100).rows == []
    assert archive.list_page(PacketFilter(), limit=0).rows == []
    last = archive.list_page(PacketFilter(), limit=18)
    assert len(last.rows) == 18
    assert last.next_cursor == ""


def test_nrefs_and_ncites_are_not_multiplied_by_positions(archive: Store) -> None:
    nrefs = archive.list_page(PacketFilter(), kind=ListKind.NREFS).rows
    assert {r.ivorn: r.count for r in nrefs if r.count} == dict(
        zip(ivorns(2, 3, 16, 17), [1, 2, 1, 1], strict=True)
    )
    ncites = archive.list_page(PacketFilter(), kind=ListKind.NCITES).rows
    assert {r.ivorn: r.count for r in ncites if r.count} == dict(
        zip(ivorns(1, 2, 4), [2, 1, 1], strict=True)
    )
    in_cone = PacketFilter(cone=Cone(10.0, 20.0, 1.0))
    row = archive.list_page(in_cone, kind=ListKind.NCITES).rows
    assert [(r.ivorn, r.count) for r in row] == [(ivorns(4)[0], 1)]


def test_maps(archive: Store) -> None:
    everything = PacketFilter()
    assert archive.map(everything, MapKind.ROLE) == [
        MapRow("observation", "", 6),
        MapRow("prediction", "", 1),
        MapRow("test", "", 8),
        MapRow("utility", "", 3),
    ]
    streams = {r.key: r.count for r in archive.map(everything, MapKind.STREAM)}
    assert streams == {
        "com.dc3/dc3.broker": 1,
        "gaia.cam.uk/alerts": 1,
        "nasa.gsfc.gcn/KONUS": 1,
        "nasa.gsfc.gcn/SWIFT": 3,
        "nasa.gsfc.gcnx/OTHER": 1,
        "voevent.4pisky.org/ASASSN": 1,
        "voevent.organization.tld/TEST": 9,
        "voevent.organization.tld/TEST_alt": 1,
    }
    months = [(r.key, r.count) for r in archive.map(everything, MapKind.AUTHORED_MONTH)]
    assert months == [
        ("2012-09", 1),
        ("2014-04", 1),
        ("2015-01", 4),
        ("2015-02", 3),
        ("2015-07", 1),
        ("2015-09", 3),
        ("2016-09", 2),
        ("2016-11", 1),
        (None, 2),
    ]
    tests = archive.map(
        PacketFilter(stream=("voevent.organization.tld/TEST",)), MapKind.STREAM_ROLE
    )
    assert tests == [
        MapRow("voevent.organization.tld/TEST", "test", 6),
        MapRow("voevent.organization.tld/TEST", "utility", 3),
    ]
    in_cone = archive.map(PacketFilter(cone=Cone(10.0, 20.0, 1.0)), MapKind.ROLE)
    assert in_cone == [MapRow("test", "", 1)]


MAP_FILTERS = [
    PacketFilter(),
    PacketFilter(role=("test", "utility")),
    PacketFilter(stream=("nasa.gsfc.gcn/SWIFT", "voevent.organization.tld/TEST")),
    PacketFilter(stream_prefix=("nasa.gsfc.gcn", "voevent."), role=("observation",)),
    PacketFilter(stream=("no/such",)),
]


@pytest.mark.parametrize("f", MAP_FILTERS)
@pytest.mark.parametrize("kind", list(MapKind))
def test_rollup_answers_equal_the_real_query(
    archive: Store, f: PacketFilter, kind: MapKind
) -> None:
    assert f.is_rollup_only()
    direct = Store(archive.engine, use_rollup=False)
    assert archive.map(f, kind) == direct.map(f, kind)
    assert archive.count(f) == direct.count(f)


def test_synopsis(archive: Store) -> None:
    xrt = archive.synopsis(ivorns(2)[0])
    assert (xrt.stream, xrt.role, xrt.version) == ("nasa.gsfc.gcn/SWIFT", "observation", "2.0")
    assert xrt.author_datetime == at("2015-09-15T21:43:50")
    assert xrt.received == RECEIVED
    assert [(c.ra, c.dec, c.error, c.time) for c in xrt.coords] == [(319.66, -34.91, 0.001, T2)]
    assert [(r.ref_ivorn, r.cite_type, r.description) for r in xrt.refs] == [
        (ivorns(1)[0], "followup", "XRT for BAT")
    ]
    assert xrt.cited_by == tuple(ivorns(3))
    multi = archive.synopsis(ivorns(4)[0])
    assert [(c.ra, c.dec) for c in multi.coords] == [(10.0, 20.0), (10.5, 20.2), (200.0, -50.0)]
    assert multi.cited_by == tuple(ivorns(17))
    bat = archive.synopsis(ivorns(1)[0])
    assert bat.cited_by == tuple(ivorns(2, 3))  # oldest authored first
    north = archive.synopsis(ivorns(7)[0])
    assert north.author_datetime is None
    assert north.refs == ()
    assert north.cited_by == ()


def test_synopsis_rows_in_list(archive: Store) -> None:
    rows = archive.list_page(PacketFilter(ref_any=True), kind=ListKind.SYNOPSIS).rows
    assert [r.synopsis.ivorn for r in rows if r.synopsis] == ivorns(2, 3, 16, 17)
    assert [len(r.synopsis.refs) for r in rows if r.synopsis] == [1, 2, 1, 1]


def test_xml_and_missing_packets(archive: Store) -> None:
    assert archive.xml(ivorns(5)[0]) == DATASET[4].raw
    with pytest.raises(PacketNotFound, match=r"^ivo://no/such#1: no such packet"):
        archive.xml("ivo://no/such#1")
    with pytest.raises(PacketNotFound, match=r"^ivo://no/such#2: no such packet"):
        archive.synopsis("ivo://no/such#2")


def test_dump_by_author_date(archive: Store) -> None:
    everything = [ivorn for ivorn, _ in archive.dump(chunk=5)]
    assert everything == ivorns(*range(1, 19))
    window = [i for i, _ in archive.dump(at("2015-01-10"), at("2015-01-12"))]
    assert window == ivorns(4, 5, 17)
    assert archive.dump_size() == len(everything)
    assert archive.dump_size(at("2015-01-10"), at("2015-01-12")) == len(window)

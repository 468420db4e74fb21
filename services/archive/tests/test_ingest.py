"""Ingest outcomes on both backends: stored, duplicate, conflict (kept), invalid; safe retries."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from vohub.archive.errors import ArchiveUnavailable
from vohub.archive.filters import MapKind, PacketFilter
from vohub.archive.importer import import_files
from vohub.archive.ingest import BatchWriter, IngestResult, Outcome, PacketRows, to_rows
from vohub.archive.progress import Progress
from vohub.archive.query import conflict, coord, voevent
from vohub.archive.store import Store
from vohub.testing.archive import as_voeventdb_dumps, make_packet

RECEIVED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def real(data_dir: Path, name: str) -> bytes:
    return (data_dir / "voevents" / "voeventdb" / name).read_bytes()


def rows(engine: Engine, table: object) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_real_packet_is_stored_with_its_exact_bytes(store: Store, data_dir: Path) -> None:
    raw = real(data_dir, "XRT_Pos_655721-326.xml")
    [result] = store.ingest([(raw, RECEIVED)])
    assert (result.ivorn, result.outcome) == (
        "ivo://nasa.gsfc.gcn/SWIFT#XRT_Pos_655721-326",
        "stored",
    )
    assert store.xml(result.ivorn) == raw
    synopsis = store.synopsis(result.ivorn)
    assert synopsis.received == RECEIVED
    assert synopsis.author_datetime == datetime(2015, 9, 15, 21, 43, 50, tzinfo=UTC)
    assert synopsis.author_ivorn == "ivo://nasa.gsfc.tan/gcn"
    assert (synopsis.stream, synopsis.role, synopsis.version) == (
        "nasa.gsfc.gcn/SWIFT",
        "observation",
        "2.0",
    )
    [position] = synopsis.coords
    assert (position.ra, position.dec, position.error) == (319.6588, -34.9131, 0.001)
    assert [r.ref_ivorn for r in synopsis.refs] == [
        "ivo://nasa.gsfc.gcn/SWIFT#BAT_GRB_Pos_655721-214"
    ]
    assert synopsis.refs[0].cite_type == "followup"


def test_voeventdb_position_rules_on_real_packets(store: Store, data_dir: Path) -> None:
    konus = real(data_dir, "Konus_Lightcurve_2015-07-10T00:28:01.68.xml")
    gaia = real(data_dir, "Gaia16bsf.xml")
    results = store.ingest([(konus, None), (gaia, None)])
    assert [r.outcome for r in results] == ["stored", "stored"]
    assert store.synopsis(results[0].ivorn).coords == ()  # GCN's dummy position is dropped
    [position] = store.synopsis(results[1].ivorn).coords
    # 2016-10-31T22:27:33 is stored in UTC. The packet's "timescale" Param says TCB, which
    # the parser honours; voeventdb read TDB from the coordinate system and stored
    # 22:26:24.817475, 19.49 s (TCB - TDB in 2016) later.
    assert position.time is not None
    expected = datetime(2016, 10, 31, 22, 26, 5, 326941, tzinfo=UTC)
    assert abs(position.time - expected) < timedelta(milliseconds=1)


def test_same_bytes_again_is_a_duplicate_and_nothing_changes(
    store: Store, engine: Engine, data_dir: Path
) -> None:
    raw = real(data_dir, "BAT_GRB_Pos_655721-214.xml")
    assert store.ingest([(raw, RECEIVED)])[0].outcome == "stored"
    again = store.ingest([(raw, RECEIVED + timedelta(days=1))])
    assert [(r.outcome, r.reason) for r in again] == [("duplicate", "")]
    assert rows(engine, voevent) == 1
    assert rows(engine, coord) == 1
    assert store.synopsis(again[0].ivorn).received == RECEIVED
    assert store.map(PacketFilter(), MapKind.ROLE)[0].count == 1


def test_other_bytes_under_a_known_ivorn_are_a_conflict_kept_aside(
    store: Store, engine: Engine, data_dir: Path
) -> None:
    raw = real(data_dir, "BAT_GRB_Pos_655721-214.xml")
    changed = raw.replace(b"</voe:VOEvent>", b"<!-- edited --></voe:VOEvent>")
    assert changed != raw
    store.ingest([(raw, RECEIVED)])
    [result] = store.ingest([(changed, RECEIVED)])
    assert result.outcome is Outcome.CONFLICT
    assert result.reason.startswith("ivo://nasa.gsfc.gcn/SWIFT#BAT_GRB_Pos_655721-214: already")
    assert store.xml(result.ivorn) == raw  # first copy kept
    with engine.connect() as connection:
        kept = connection.execute(select(conflict.c.ivorn, conflict.c.xml)).all()
    assert [(ivorn, bytes(xml)) for ivorn, xml in kept] == [(result.ivorn, changed)]
    replay = store.ingest([(changed, RECEIVED), (raw, RECEIVED)])
    assert [r.outcome for r in replay] == ["conflict", "duplicate"]
    assert rows(engine, conflict) == 1  # a replayed conflict is recorded once
    assert rows(engine, voevent) == 1


@pytest.mark.parametrize("dump_first", [False, True], ids=["live-then-dump", "dump-then-live"])
def test_voeventdb_dump_copy_of_a_packet_is_a_duplicate_not_a_conflict(
    store: Store, engine: Engine, data_dir: Path, dump_first: bool
) -> None:
    """A hub migrated from voeventdb imports its dumps and receives the same packets live."""
    sent = real(data_dir, "BAT_GRB_Pos_655721-214.xml").replace(b"><", b">\n  <")
    dumped = as_voeventdb_dumps(sent)
    assert dumped != sent
    first, second = (dumped, sent) if dump_first else (sent, dumped)
    [stored] = store.ingest([(first, RECEIVED)])
    [again] = store.ingest([(second, RECEIVED)])
    assert [(r.outcome, r.reason) for r in (stored, again)] == [("stored", ""), ("duplicate", "")]
    assert store.xml(again.ivorn) == first  # first copy kept and served
    assert rows(engine, conflict) == 0
    assert rows(engine, voevent) == 1


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"<voe:VOEvent", "malformed XML"),
        (b"<html><body/></html>", "not a VOEvent"),
        (b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>', "forbidden XML construct"),
    ],
)
def test_unreadable_bytes_are_invalid(
    store: Store, engine: Engine, raw: bytes, reason: str
) -> None:
    [result] = store.ingest([(raw, None)])
    assert (result.ivorn, result.outcome) == ("", "invalid")
    assert reason in result.reason
    assert rows(engine, voevent) == 0


def test_refused_roles_and_cite_types_name_the_packet(store: Store) -> None:
    bad_role = make_packet("ivo://vohub.test/a#1", role="rumour")
    bad_cite = make_packet("ivo://vohub.test/a#2", citations=[("ivo://vohub.test/a#1", "likes")])
    results = store.ingest_packets([(bad_role, None), (bad_cite, None)])
    assert [r.outcome for r in results] == ["invalid", "invalid"]
    assert results[0].reason.startswith("ivo://vohub.test/a#1: role 'rumour' is not one of")
    assert "ivo://vohub.test/a#2: citation of ivo://vohub.test/a#1 has cite type 'likes'" in (
        results[1].reason
    )


def test_mixed_batch_reports_in_request_order(store: Store, engine: Engine) -> None:
    first = make_packet("ivo://vohub.test/a#1", positions=[(1.0, 2.0, 0.1)])
    other = make_packet("ivo://vohub.test/a#1", raw=b"<other/>")
    second = make_packet("ivo://vohub.test/a#2", author_datetime=RECEIVED)
    batch = [(first, None), (first, None), (other, None), (second, None)]
    results = store.ingest_packets(batch)
    assert [(r.ivorn, r.outcome) for r in results] == [
        ("ivo://vohub.test/a#1", "stored"),
        ("ivo://vohub.test/a#1", "duplicate"),
        ("ivo://vohub.test/a#1", "conflict"),
        ("ivo://vohub.test/a#2", "stored"),
    ]
    replayed = store.ingest_packets(batch)  # as a broker does after a crash
    assert [r.outcome for r in replayed] == ["duplicate", "duplicate", "conflict", "duplicate"]
    assert rows(engine, voevent) == 2
    assert rows(engine, coord) == 1
    assert rows(engine, conflict) == 1
    months = store.map(PacketFilter(), MapKind.AUTHORED_MONTH)
    assert [(m.key, m.count) for m in months] == [("2026-03", 1), (None, 1)]


@pytest.mark.parametrize("rollup", [True, False], ids=["rollup", "direct"])
def test_the_month_of_a_date_at_either_end_of_the_calendar_is_its_own(
    engine: Engine, rollup: bool
) -> None:
    """SQLite's date functions rounded 9999-12-31T23:59:59.9999 to the millisecond, past its
    last year, and the packet was listed under no date (null) in a filtered month map."""
    dates = [datetime(9999, 12, 31, 23, 59, 59, 999900, UTC), datetime(1, 1, 1, tzinfo=UTC)]
    store = Store(engine, use_rollup=rollup)
    packets = [
        make_packet(f"ivo://vohub.test/m#{i}", author_datetime=d) for i, d in enumerate(dates)
    ]
    store.ingest_packets([(p, None) for p in packets])
    for f in (PacketFilter(), PacketFilter(ivorn_prefix=("ivo://vohub.test/m",))):
        months = store.map(f, MapKind.AUTHORED_MONTH)
        assert [(m.key, m.count) for m in months] == [("0001-01", 1), ("9999-12", 1)]


def test_received_defaults_to_the_injected_clock(engine: Engine) -> None:
    store = Store(engine, clock=lambda: RECEIVED)
    [result] = store.ingest_packets([(make_packet("ivo://vohub.test/a#1"), None)])
    assert store.synopsis(result.ivorn).received == RECEIVED


def test_concurrent_writers_of_one_batch_store_each_packet_once(
    store: Store, engine: Engine
) -> None:
    batch = [
        (make_packet(f"ivo://vohub.test/c#{i}", positions=[(i, 0.0, 0.1)]), None)
        for i in range(200)
    ]
    outcomes: list[list[str]] = []

    def ingest() -> None:
        outcomes.append([r.outcome.value for r in store.ingest_packets(batch)])

    workers = [threading.Thread(target=ingest) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(outcomes) == 3
    for i in range(200):
        column = sorted(result[i] for result in outcomes)
        assert column == ["duplicate", "duplicate", "stored"]
    assert rows(engine, voevent) == 200
    assert rows(engine, coord) == 200
    assert store.count(PacketFilter()) == 200


@pytest.mark.postgres
def test_unreachable_database_is_archive_unavailable() -> None:
    store = Store.open("postgresql://postgres@127.0.0.1:1/nothing")
    with pytest.raises(ArchiveUnavailable, match=r"^postgresql://postgres@127\.0\.0\.1:1/"):
        store.count(PacketFilter())
    with pytest.raises(ArchiveUnavailable, match="database unavailable"):
        store.ingest_packets([(make_packet("ivo://vohub.test/a#1"), None)])


def test_import_through_a_worker_process(store: Store, engine: Engine, data_dir: Path) -> None:
    dump = data_dir / "tarballs" / "2020-06.002.tar.bz2"
    summary = import_files(store, [dump], batch=100, parallel=True)
    assert summary.lines() == ["imported 294, duplicates 0, conflicts 0, invalid 0"]
    assert rows(engine, voevent) == 294
    again = import_files(store, [dump], batch=100, parallel=False)
    assert again.lines() == ["imported 0, duplicates 294, conflicts 0, invalid 0"]


@pytest.mark.parametrize("parallel", [False, True], ids=["in-process", "workers"])
def test_import_batches_span_packet_files_and_progress_reaches_every_byte(
    store: Store, data_dir: Path, parallel: bool
) -> None:
    files = sorted((data_dir / "voevents" / "fourpisky-core").glob("*.xml"))
    files.append(data_dir / "tarballs" / "2020-06.002.tar.bz2")
    writes: list[int] = []
    write = store.write

    def counted(prepared: Sequence[PacketRows | IngestResult], *, durable: bool) -> Any:
        writes.append(len(prepared))
        return write(prepared, durable=durable)

    store.write = counted  # type: ignore[method-assign]
    progress = Progress(sum(f.stat().st_size for f in files), stream=io.StringIO())
    done: list[int] = []
    progress.update = lambda bytes_done, **_: done.append(bytes_done)  # type: ignore[method-assign]
    summary = import_files(store, files, batch=4, progress=progress, parallel=parallel)
    packets = len(files) - 1 + 294
    assert summary.lines() == [f"imported {packets}, duplicates 0, conflicts 0, invalid 0"]
    assert sum(writes) == packets
    # Four packets per transaction across files (one partial batch per reader at most),
    # not one transaction per packet file.
    assert len(writes) <= packets // 4 + 3
    assert done == sorted(done)
    assert done[-1] == progress.total


@pytest.mark.postgres
def test_copy_falls_back_to_insert_when_an_ivorn_is_taken_after_the_check(
    migrated: Callable[[str, str], Engine], empty: Callable[[Engine], None]
) -> None:
    engine = migrated("postgresql", "unit")
    empty(engine)
    store = Store(engine)
    taken = make_packet("ivo://vohub.test/race#1", positions=[(1.0, 2.0, 0.1)])
    store.ingest_packets([(taken, RECEIVED)])

    class LateCheck(BatchWriter):
        """Sees the archive as it was before the other writer committed (first look only)."""

        looked = False

        def _stored_bytes(self, ivorns: list[str]) -> dict[str, bytes]:
            if not self.looked:
                self.looked = True
                return {}
            return super()._stored_bytes(ivorns)

    fresh = make_packet("ivo://vohub.test/race#2", positions=[(3.0, 4.0, 0.1)])
    batch = [to_rows(taken, RECEIVED), to_rows(fresh, RECEIVED)]
    with engine.begin() as connection:
        results = LateCheck(connection, RECEIVED).write(batch)
    assert [r.outcome for r in results] == [Outcome.DUPLICATE, Outcome.STORED]
    assert rows(engine, voevent) == 2
    assert rows(engine, coord) == 2
    assert [c.ra for c in store.synopsis("ivo://vohub.test/race#2").coords] == [3.0]


def dated(ivorn: str, date: str) -> bytes:
    """A VOEvent 2.0 whose Who/Date is ``date`` (as written)."""
    return (
        '<voe:VOEvent xmlns:voe="http://www.ivoa.net/xml/VOEvent/v2.0" version="2.0"'
        f' ivorn="{ivorn}" role="test"><Who><Date>{date}</Date></Who></voe:VOEvent>'
    ).encode()


def test_a_date_out_of_range_in_utc_is_left_out_and_the_batch_goes_on(store: Store) -> None:
    """Such a date raised OverflowError through the whole batch: nothing was stored."""
    batch = [
        (dated("ivo://vohub.test/d#good", "2016-01-01T00:00:00"), None),
        (dated("ivo://vohub.test/d#early", "0001-01-01T00:00:00+14:00"), None),
        (dated("ivo://vohub.test/d#late", "9999-12-31T23:00:00-05:00"), None),
    ]
    results = store.ingest(batch)
    assert [(r.ivorn.split("#")[1], r.outcome) for r in results] == [
        ("good", "stored"),
        ("early", "stored"),
        ("late", "stored"),
    ]
    assert store.synopsis("ivo://vohub.test/d#good").author_datetime == datetime(
        2016, 1, 1, tzinfo=UTC
    )
    assert store.synopsis("ivo://vohub.test/d#early").author_datetime is None
    assert store.xml("ivo://vohub.test/d#late") == batch[2][0]
    months = store.map(PacketFilter(), MapKind.AUTHORED_MONTH)
    assert [(m.key, m.count) for m in months] == [("2016-01", 1), (None, 2)]

"""Query a 1 000 000-packet archive on PostgreSQL: vohub's engine vs voeventdb.server 1.3.4.

Run: ``.venv/bin/python bench/bench_archive_query.py [--no-peer] [--reuse] [-n 200] [--rounds 3]``.

Builds two databases holding the same 1 020 468 packets (the four real dumps, imported by
each system's own loader, then replicated 11 times in SQL with IVORNs suffixed ``_rK`` and
author and observation times shifted by K × 400 days; both clustered on the q3c pixel,
vacuumed and analysed alike), then times four queries with the same random parameters on
both, in interleaved rounds (vohub first, then voeventdb first, ...; new parameters each
round), and prints the median over rounds of each round's p50 and p99, and their ratios:

* count with a 3° cone around a real position and a one-year authored range;
* a list page of 100 IVORNs ordered by author_datetime (random offsets below 5000);
* the stream_count map with no filter;
* the synopsis of a random packet.

vohub is timed through gRPC calls to a real ``vohub archive serve`` on 127.0.0.1 (one
channel, calls one after another, round trip included).  voeventdb.server is timed through
its Flask app's test client in one process, as it ships (its sessions keep PostgreSQL's
default settings, JIT included): no HTTP and no socket, which favours it.  No answer is
cached by either side: every call runs its SQL.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote_plus

import grpc
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_archive_import import (
    PG_HOST,
    PG_SA,
    TARBALLS,
    VOHUB,
    drop_database,
    peer_import,
    run_peer,
    vohub_import,
)

from vohub.archive.convert import to_timestamp
from vohub.testing.archive import serving
from vohub.testing.ports import free_port
from vohub.v1 import archive_pb2 as pb
from vohub.v1 import archive_pb2_grpc

REPLICAS = 11
SHIFT_DAYS = 400
OURS, THEIRS = "bench_vohub_1m", "bench_voeventdb_1m"


def replicate(name: str, rollup: bool) -> int:
    """Add REPLICAS shifted copies of every packet (with positions and citations) in SQL."""
    engine = create_engine(f"{PG_SA}/{name}")
    with engine.begin() as db:
        base = db.execute(text("SELECT max(id) FROM voevent")).scalar_one()
        for k in range(1, REPLICAS + 1):
            shift = f"interval '{k * SHIFT_DAYS} days'"
            db.execute(
                text(
                    "INSERT INTO voevent (received, ivorn, stream, role, version, author_ivorn,"
                    " author_datetime, xml) SELECT received, ivorn || :suffix, stream, role,"
                    f" version, author_ivorn, author_datetime + {shift}, xml FROM voevent"
                    " WHERE id <= :base"
                    " ORDER BY id"
                ),
                {"suffix": f"_r{k}", "base": base},
            )
            db.execute(text("DROP TABLE IF EXISTS replica_ids"))
            db.execute(
                text(
                    "CREATE TEMP TABLE replica_ids AS SELECT o.id AS old, n.id AS new"
                    " FROM voevent o JOIN voevent n ON n.ivorn = o.ivorn || :suffix"
                    " WHERE o.id <= :base"
                ),
                {"suffix": f"_r{k}", "base": base},
            )
            # vohub copies the packet's author date onto its positions (schema 0003)
            authored = (
                (", author_datetime", f", c.author_datetime + {shift}") if rollup else ("", "")
            )
            db.execute(
                text(
                    f"INSERT INTO coord (voevent_id, ra, dec, error, time{authored[0]})"
                    f" SELECT r.new, c.ra, c.dec, c.error, c.time + {shift}{authored[1]}"
                    " FROM coord c JOIN replica_ids r ON r.old = c.voevent_id ORDER BY c.id"
                )
            )
            db.execute(
                text(
                    "INSERT INTO cite (voevent_id, ref_ivorn, cite_type, description) SELECT r.new,"
                    " c.ref_ivorn || :suffix, c.cite_type, c.description FROM cite c JOIN"
                    " replica_ids r ON r.old = c.voevent_id ORDER BY c.id"
                ),
                {"suffix": f"_r{k}"},
            )
        if rollup:  # vohub keeps this at ingest; SQL replication bypassed ingest
            db.execute(text("DELETE FROM rollup"))
            db.execute(
                text(
                    "INSERT INTO rollup (stream, role, month, n) SELECT stream, role,"
                    " coalesce(to_char(timezone('UTC', author_datetime), 'YYYY-MM'), ''), count(*)"
                    " FROM voevent GROUP BY 1, 2, 3"
                )
            )
        total = int(db.execute(text("SELECT count(*) FROM voevent")).scalar_one())
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as db:
        db.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    return total


def packet_count(name: str) -> int:
    try:
        engine = create_engine(f"{PG_SA}/{name}")
        with engine.connect() as db:
            return int(db.execute(text("SELECT count(*) FROM voevent")).scalar_one())
    except Exception:  # noqa: BLE001 - a missing database simply means "build it"
        return 0


def build(peer: bool, reuse: bool) -> None:
    if not (reuse and packet_count(OURS) >= 1_000_000):
        seconds, summary = vohub_import(OURS, TARBALLS)
        print(f"vohub import: {summary} in {seconds:.0f} s", flush=True)
        print(f"vohub archive: {replicate(OURS, rollup=True)} packets", flush=True)
    if peer and not (reuse and packet_count(THEIRS) >= 1_000_000):
        seconds, loaded = peer_import(THEIRS, TARBALLS)
        print(f"voeventdb import: {loaded} packets in {seconds:.0f} s", flush=True)
        print(f"voeventdb archive: {replicate(THEIRS, rollup=False)} packets", flush=True)
    # `vohub archive optimize` clusters positions by q3c pixel; the same statement is run on
    # the peer's database (voeventdb has no such command), so both read the same pages.
    subprocess.run(
        [*VOHUB, "--db", f"{PG_HOST}/{OURS}", "optimize"], check=True, capture_output=True
    )
    if peer:
        engine = create_engine(f"{PG_SA}/{THEIRS}", isolation_level="AUTOCOMMIT")
        with engine.connect() as db:
            db.execute(text("CLUSTER coord USING q3c_coord_idx"))
            db.execute(text("VACUUM ANALYZE"))
        engine.dispose()


def plan(n: int, warmup: int, seed: int) -> dict[str, list[dict[str, object]]]:
    """The same random parameters for both systems (a new draw each round)."""
    rng = random.Random(seed)
    engine = create_engine(f"{PG_SA}/{OURS}")
    with engine.connect() as db:
        db.execute(text("SELECT setseed(:s)"), {"s": rng.random()})
        spots = db.execute(
            text("SELECT ra, dec FROM coord ORDER BY random() LIMIT :n"), {"n": n + warmup}
        ).all()
        ivorns = (
            db.execute(
                text("SELECT ivorn FROM voevent ORDER BY random() LIMIT :n"), {"n": n + warmup}
            )
            .scalars()
            .all()
        )
    engine.dispose()
    first = datetime(2014, 1, 1, tzinfo=UTC)
    cones = []
    for ra, dec in spots:
        since = first + timedelta(days=rng.uniform(0, 22 * 365))
        cones.append({"ra": ra, "dec": dec, "since": since, "until": since + timedelta(days=365)})
    return {
        "cone_time_count": cones,
        "list_by_author_datetime": [{"offset": rng.randrange(5000)} for _ in range(n + warmup)],
        "stream_count_map": [{} for _ in range(n + warmup)],
        "synopsis": [{"ivorn": i} for i in ivorns],
    }


def grpc_calls(stub: archive_pb2_grpc.ArchiveStub) -> dict[str, Callable[[dict], object]]:
    def cone(p: dict) -> object:
        f = pb.Filter(
            cone=pb.Cone(ra=p["ra"], dec=p["dec"], radius=3.0),
            authored_since=to_timestamp(p["since"]),
            authored_until=to_timestamp(p["until"]),
        )
        return stub.Count(pb.CountRequest(filter=f), timeout=30)

    return {
        "cone_time_count": cone,
        "list_by_author_datetime": lambda p: stub.List(
            pb.ListRequest(order=pb.ORDER_AUTHOR_DATETIME, limit=100, offset=p["offset"]),
            timeout=30,
        ),
        "stream_count_map": lambda p: stub.Map(
            pb.MapRequest(kind=pb.MapRequest.STREAM), timeout=30
        ),
        "synopsis": lambda p: stub.Synopsis(pb.PacketRequest(ivorn=p["ivorn"]), timeout=30),
    }


@contextlib.contextmanager
def vohub_server() -> Iterator[archive_pb2_grpc.ArchiveStub]:
    """A real ``vohub archive serve`` on the 1M database, and a stub over one channel to it."""
    address = f"127.0.0.1:{free_port()}"
    server = subprocess.Popen(
        [*VOHUB, "--db", f"{PG_HOST}/{OURS}", "serve", "--grpc", address, "--ops", ""],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not serving(address):
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("vohub archive serve did not become ready")
            time.sleep(0.2)
        with grpc.insecure_channel(address) as channel:
            yield archive_pb2_grpc.ArchiveStub(channel)
    finally:
        server.terminate()
        server.wait(30)


def time_vohub(
    stub: archive_pb2_grpc.ArchiveStub, queries: dict[str, list[dict]], warmup: int
) -> dict[str, list[float]]:
    calls = grpc_calls(stub)
    return {name: measure(calls[name], params, warmup) for name, params in queries.items()}


def measure(call: Callable[[dict], object], params: list[dict], warmup: int) -> list[float]:
    for p in params[:warmup]:
        call(p)
    times = []
    for p in params[warmup:]:
        start = time.perf_counter()
        call(p)
        times.append(time.perf_counter() - start)
    return times


def peer_paths(queries: dict[str, list[dict]]) -> dict[str, list[str]]:
    def iso(moment: datetime) -> str:
        return quote_plus(moment.isoformat())

    return {
        "cone_time_count": [
            f"/apiv1/count?cone=[{p['ra']},{p['dec']},3]&authored_since={iso(p['since'])}"
            f"&authored_until={iso(p['until'])}"
            for p in queries["cone_time_count"]
        ],
        "list_by_author_datetime": [
            f"/apiv1/list/ivorn?order=author_datetime&limit=100&offset={p['offset']}"
            for p in queries["list_by_author_datetime"]
        ],
        "stream_count_map": ["/apiv1/map/stream_count" for _ in queries["stream_count_map"]],
        "synopsis": [
            f"/apiv1/packet/synopsis/{quote_plus(p['ivorn'])}" for p in queries["synopsis"]
        ],
    }


def time_peer(queries: dict[str, list[dict]], warmup: int) -> dict[str, list[float]]:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump({"warmup": warmup, "queries": peer_paths(queries)}, handle)
    try:
        return json.loads(run_peer("query", THEIRS, handle.name).splitlines()[-1])
    finally:
        os.unlink(handle.name)


def pct(times: list[float], q: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


def run_rounds(args: argparse.Namespace, warmup: int) -> list[dict[str, dict[str, list[float]]]]:
    """Interleaved rounds: vohub then voeventdb, then the other way round, fresh parameters."""
    rounds = []
    with vohub_server() as stub:
        for k in range(args.rounds):
            queries = plan(args.n, warmup, seed=1_000_000 + k)
            order = ["vohub", "voeventdb"] if k % 2 == 0 else ["voeventdb", "vohub"]
            timed: dict[str, dict[str, list[float]]] = {}
            for system in order:
                if system == "vohub":
                    timed[system] = time_vohub(stub, queries, warmup)
                elif not args.no_peer:
                    timed[system] = time_peer(queries, warmup)
            print(f"round {k + 1}/{args.rounds} done, load {os.getloadavg()[0]:.2f}", flush=True)
            rounds.append(timed)
    return rounds


def report(rounds: list[dict[str, dict[str, list[float]]]]) -> None:
    """Per query: the median over rounds of each round's p50 and p99, and their ratios."""

    def med(system: str, name: str, q: float) -> float:
        return statistics.median(pct(r[system][name], q) for r in rounds)

    print(f"\nmedians of {len(rounds)} interleaved rounds (ms; ratio = voeventdb / vohub)")
    head = f"{'query':26} {'vohub p50':>10} {'p99':>8} {'voeventdb p50':>14} {'p99':>8}"
    print(head + f" {'p50 ratio':>10} {'p99 ratio':>10}")
    for name in rounds[0]["vohub"]:
        ours50, ours99 = med("vohub", name, 0.5), med("vohub", name, 0.99)
        line = f"{name:26} {ours50:8.1f}ms {ours99:6.1f}ms"
        if "voeventdb" in rounds[0]:
            theirs50, theirs99 = med("voeventdb", name, 0.5), med("voeventdb", name, 0.99)
            line += f" {theirs50:12.1f}ms {theirs99:6.1f}ms"
            line += f" {theirs50 / ours50:9.1f}x {theirs99 / ours99:9.1f}x"
        print(line)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-peer", action="store_true", help="skip voeventdb.server")
    parser.add_argument("--reuse", action="store_true", help="reuse 1M databases if present")
    parser.add_argument("--drop", action="store_true", help="drop the databases at the end")
    parser.add_argument("-n", type=int, default=200, help="timed calls per query and round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f} (2 cores)", flush=True)
    build(not args.no_peer, args.reuse)
    report(run_rounds(args, warmup=10))
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    if args.drop:
        drop_database(OURS)
        drop_database(THEIRS)
    return 0


if __name__ == "__main__":
    sys.exit(main())

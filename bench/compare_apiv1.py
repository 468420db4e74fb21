"""Differential check of /apiv1: the same random queries to vohub and voeventdb.server 1.3.4.

On the gateway benchmark's database (built by bench_gateway.py, which this reuses), it runs both
servers as that benchmark does and asks each the same ``--queries`` random apiv1 queries: one to
four of the 14 filters in their accepted forms (repeated where the filter takes several values),
on count, every list endpoint (with a random order, limit and offset) and every map endpoint. It
prints each query whose status or result differs, and exits 1 if any does.

On this database every packet has at most one position, so voeventdb's duplicate rows (a packet
counted once per matching position, which vohub does not copy) cannot show; nor can its LIKE
wildcards, as no value holds ``%`` or ``_``; ``role=prediction``, which voeventdb refuses, is not
asked. Everything else should match exactly.

    .venv/bin/python bench/compare_apiv1.py [--queries 300] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_gateway import (
    STREAMS,
    build_database,
    packet_count,
    prepare_database,
    start_peer,
    start_vohub,
    stop,
)

ENDPOINTS = [
    "/apiv1/count",
    "/apiv1/list/ivorn",
    "/apiv1/list/ivorn_nrefs",
    "/apiv1/list/ivorn_ncites",
    "/apiv1/map/stream_count",
    "/apiv1/map/role_count",
    "/apiv1/map/stream_role_count",
    "/apiv1/map/authored_month_count",
]
ORDERS = ["id", "-id", "ivorn", "-ivorn", "author_datetime", "-author_datetime"]
FILTERS = [
    "authored_since", "authored_until", "cited", "cone", "coord", "dec_gt", "dec_lt",
    "ivorn_contains", "ivorn_prefix", "ref_any", "ref_contains", "ref_exact", "role", "stream",
]  # fmt: skip


def some_date(rng: random.Random) -> str:
    """A date-time in one of the forms voeventdb reads (month, day, time, offset, space, Z)."""
    y, m, d = rng.randint(2013, 2024), rng.randint(1, 12), rng.randint(1, 28)
    return rng.choice([
        f"{y}-{m:02d}",
        f"{y}-{m:02d}-{d:02d}",
        f"{y}-{m:02d}-{d:02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00",
        f"{y}-{m:02d}-{d:02d}T10:00:00+02:00",
        f"{y}-{m:02d}-{d:02d} 05:06:07Z",
    ])  # fmt: skip


def some_ivorn(rng: random.Random, n: int) -> str:
    """The IVORN of a random packet of the benchmark's database."""
    g = rng.randint(1, n)
    return f"ivo://{STREAMS[g % 20]}#bench-{g}"


def some_values(key: str, rng: random.Random, n: int) -> list[str]:
    """Values for the filter ``key`` that match some packets and miss others."""
    if key in ("authored_since", "authored_until"):
        return [some_date(rng)]
    if key in ("cited", "coord", "ref_any"):
        return [rng.choice(["true", "false", "True", "FALSE"])]
    if key == "cone":
        ra, dec = round(rng.uniform(0, 360), 2), round(rng.uniform(-89, 89), 2)
        return [json.dumps([ra, dec, rng.choice([0.5, 2, 5, 15])])]
    if key in ("dec_gt", "dec_lt"):
        return [str(round(rng.uniform(-90, 90), 1))]
    if key == "ivorn_contains":
        return rng.sample(["bench-1", "SWIFT", "#bench-99", "LVC", "gcn/"], rng.randint(1, 2))
    if key == "ivorn_prefix":
        prefixes = [f"ivo://{stream}" for stream in STREAMS] + ["ivo://gwnet/LVC#bench-1"]
        return rng.sample(prefixes, rng.randint(1, 2))
    if key == "ref_contains":
        return [rng.choice(["bench-1", "SWIFT", "LVC#bench-5"])]
    if key == "ref_exact":
        return [some_ivorn(rng, n) for _ in range(rng.randint(1, 2))]
    if key == "role":
        return rng.sample(["observation", "utility", "test"], rng.randint(1, 2))
    return rng.sample(STREAMS, rng.randint(1, 2))  # stream


def some_filters(rng: random.Random, n: int) -> list[tuple[str, str]]:
    """One to four of the 14 filters, each with its values."""
    keys = rng.sample(FILTERS, rng.randint(1, 4))
    return [(key, value) for key in keys for value in some_values(key, rng, n)]


def ask(base: str, path: str, params: list[tuple[str, str]]) -> tuple[int, object]:
    """The status and (for a 200) the envelope's ``result`` of one query."""
    url = f"{base}{path}?{urlencode(params)}"
    try:
        with urllib.request.urlopen(url, timeout=300) as reply:
            return reply.status, json.loads(reply.read())["result"]
    except urllib.error.HTTPError as error:
        return error.code, None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--packets", type=int, default=1_000_000)
    args = parser.parse_args()
    if packet_count() < args.packets:
        build_database(args.packets)
    prepare_database()
    n = packet_count()
    rng = random.Random(args.seed)
    workdir = Path(tempfile.mkdtemp(prefix="compare-apiv1-"))
    vohub_url, vohub_procs = start_vohub(workdir, argparse.Namespace(archives=1, workers=2))
    peer_url, peer_procs = start_peer(workdir, 2, 4)
    differences = 0
    try:
        for _ in range(args.queries):
            endpoint = rng.choice(ENDPOINTS)
            params = some_filters(rng, n)
            if "/list/" in endpoint:
                params.append(("order", rng.choice(ORDERS)))
                params.append(("limit", str(rng.choice([5, 50, 100]))))
                params.append(("offset", str(rng.choice([0, 3, 100]))))
            ours, theirs = ask(vohub_url, endpoint, params), ask(peer_url, endpoint, params)
            if ours != theirs:
                differences += 1
                print(f"DIFFERENT {endpoint}?{urlencode(params)}")
                print(f"  vohub     {str(ours)[:400]}")
                print(f"  voeventdb {str(theirs)[:400]}")
    finally:
        for process in [*vohub_procs, *peer_procs]:
            stop(process)
    print(f"{args.queries} queries on {n} packets: {differences} answered differently")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())

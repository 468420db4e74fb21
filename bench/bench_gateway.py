"""Gateway benchmark: vohub gateway vs voeventdb.server 1.3.4, both under gunicorn, one database.

Builds (once) a PostgreSQL + q3c archive of ``--packets`` packets (default 1 000 000) with the
archive's own schema, whose ``voevent``/``coord``/``cite`` tables voeventdb.server reads as its
own; then migrates it to head and runs ``vohub archive optimize`` on it (one database, so both
servers get the same indexes, clustering and statistics). Runs ``vohub archive serve``
(``--archives`` of them, the gateway spreading its calls over them; one by default, as a second
adds nothing on two cores) + ``vohub gateway`` (gunicorn's asyncio workers) and voeventdb.server's
Flask app under gunicorn gthread workers (its WSGI app needs a thread per request in flight),
with the same number of workers and HTTP keep-alive on both, and loads each with wrk (a C load
generator, so the client takes almost none of the CPU) with the same request mix: count (cone +
time), list page, stream map, packet XML, with random parameters (new ones each round). Neither
server caches answers. Rounds are interleaved
(vohub first, then voeventdb first, ...); the table gives medians over rounds of requests/s,
p50 and p99, the ratios, and the CPU milliseconds per request of each process group (archive,
gateway workers, voeventdb workers, PostgreSQL backends of this database).

voeventdb.server runs from the Python 3.8 virtualenv that bench_archive_import.py builds
(created on first use, with the 2016-era pins it needs); wrk is a Debian package
(``scripts/install-system-packages bench``, which ``make bench`` runs).

    .venv/bin/python bench/bench_gateway.py [--packets N] [--workers 2] [--seconds 6] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote_plus

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_archive_import import peer_python
from gateway_loadgen import run_load

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ADMIN = os.environ.get("VOHUB_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
DB_NAME = "vohub_bench_gateway"
STREAMS = [
    "nasa.gsfc.gcn/SWIFT", "nasa.gsfc.gcn/Fermi", "nasa.gsfc.gcn/INTEGRAL", "nasa.gsfc.gcn/MAXI",
    "nasa.gsfc.gcn/AGILE", "nasa.gsfc.gcn/AMON", "nasa.gsfc.gcn/SNEWS", "nasa.gsfc.gcn/KONUS",
    "nasa.gsfc.gcn/ICECUBE", "nasa.gsfc.gcn/LVC", "gwnet/LVC", "gaia.cam.uk/alerts",
    "voevent.4pisky.org/ASASSN", "voevent.4pisky.org/GAIA", "voevent.phys.soton.ac.uk/AMI",
    "voevent.organization.tld/TEST", "svomcgft.naoc/VOEVENTTEST", "com.dc3/dc3.broker",
    "ivo.example.org/alerts", "raptor.lanl/VOEvent",
]  # fmt: skip
WSGI_PEER = """
from sqlalchemy import create_engine
from voeventdb.server.database import session_registry
from voeventdb.server.restapi.app import app
session_registry.configure(bind=create_engine({url!r}, pool_size=4))
application = app
"""


def psql(sql: str, db: str = "postgres") -> str:
    url = ADMIN.rsplit("/", 1)[0] + "/" + db
    done = subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-qAtc", sql],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return done.stdout.strip()


def db_url() -> str:
    return ADMIN.rsplit("/", 1)[0] + "/" + DB_NAME


def packet_count() -> int:
    exists = psql(f"SELECT 1 FROM pg_database WHERE datname = '{DB_NAME}'")
    if not exists:
        return -1
    try:
        return int(psql("SELECT count(*) FROM voevent", DB_NAME))
    except subprocess.CalledProcessError:
        return -1


def build_database(n: int) -> None:
    """Create the archive schema with Alembic, then fill it in bulk with ``n`` packets."""
    from sqlalchemy import create_engine

    from vohub.archive import schema

    psql(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
    psql(f'CREATE DATABASE "{DB_NAME}"')
    psql("CREATE EXTENSION IF NOT EXISTS q3c", DB_NAME)
    engine = create_engine(db_url().replace("postgresql://", "postgresql+psycopg2://", 1))
    schema.upgrade(engine)
    engine.dispose()
    template = (ROOT / "data/voevents/voeventdb/XRT_Pos_655721-326.xml").read_text()
    template = template.replace("ivo://nasa.gsfc.gcn/SWIFT#XRT_Pos_655721-326", "@IVORN@")
    started = time.monotonic()
    psql(fill_sql(n, template), DB_NAME)
    print(f"built {n} packets in {time.monotonic() - started:.0f} s", flush=True)


def prepare_database() -> None:
    """Bring the schema to head and run ``vohub archive optimize`` (cluster positions on the
    q3c pixel, vacuum, analyse): both servers then read the same, well-kept database."""
    vohub = [sys.executable, "-m", "vohub.cli", "archive", "--db", db_url()]
    for action in ("migrate", "optimize"):
        subprocess.run([*vohub, action], check=True, capture_output=True)


def fill_sql(n: int, template: str) -> str:
    """Deterministic synthetic packets: 20 streams, 80 % with a position spread uniformly on the
    sky (RA and sin(dec) from two independent Weyl sequences, frac(g*(sqrt(2)-1)) and
    frac(g*(golden ratio - 1))), author dates over ~9.5 years, 20 % citing an earlier one."""
    streams = "ARRAY[" + ",".join(f"'{s}'" for s in STREAMS) + "]"
    tpl = template.replace("'", "''")
    return f"""
BEGIN;
INSERT INTO voevent (id, received, ivorn, stream, role, version, author_ivorn, author_datetime, xml)
SELECT g, timestamptz '2024-01-01 00:00:00+00',
       'ivo://' || ({streams})[1 + g % 20] || '#bench-' || g,
       ({streams})[1 + g % 20],
       CASE WHEN g % 10 < 7 THEN 'observation' WHEN g % 10 < 9 THEN 'utility' ELSE 'test' END,
       '2.0', 'ivo://' || split_part(({streams})[1 + g % 20], '/', 1) || '/author',
       CASE WHEN g % 1000 = 999 THEN NULL
            ELSE timestamptz '2014-01-01 00:00:00+00'
                 + g * (300 * 1000000 / {n}) * interval '1 second' END,
       convert_to(replace('{tpl}', '@IVORN@',
                          'ivo://' || ({streams})[1 + g % 20] || '#bench-' || g), 'UTF8')
FROM generate_series(1, {n}) AS g;
INSERT INTO coord (voevent_id, ra, dec, error, time, author_datetime)
SELECT g, 360.0 * (g * 0.4142135623730950 - floor(g * 0.4142135623730950)),
       degrees(asin(2 * (g * 0.6180339887498949 - floor(g * 0.6180339887498949)) - 1)),
       0.05, timestamptz '2014-01-01 00:00:00+00' + g * (300 * 1000000 / {n}) * interval '1 second',
       (SELECT author_datetime FROM voevent WHERE id = g)
FROM generate_series(1, {n}) AS g WHERE g % 10 < 8;
INSERT INTO cite (voevent_id, ref_ivorn, cite_type, description)
SELECT g, 'ivo://' || ({streams})[1 + (g - 20) % 20] || '#bench-' || (g - 20), 'followup', 'bench'
FROM generate_series(21, {n}) AS g WHERE g % 5 = 0;
INSERT INTO rollup (stream, role, month, n)
SELECT stream, role, coalesce(to_char(author_datetime AT TIME ZONE 'UTC', 'YYYY-MM'), ''),
       count(*) FROM voevent GROUP BY 1, 2, 3;
SELECT setval(pg_get_serial_sequence('voevent', 'id'), {n});
SELECT setval(pg_get_serial_sequence('coord', 'id'), (SELECT max(id) FROM coord));
SELECT setval(pg_get_serial_sequence('cite', 'id'), (SELECT max(id) FROM cite));
COMMIT;
ANALYZE;
"""


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, deadline: float = 60.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(url, timeout=5) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer 200 within {deadline:g} s")


def start(argv: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    handle = log.open("wb")
    return subprocess.Popen(argv, stdout=handle, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)  # fmt: skip


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def start_vohub(
    workdir: Path, args: argparse.Namespace
) -> tuple[str, list[subprocess.Popen[bytes]]]:
    vohub = [sys.executable, "-m", "vohub.cli"]
    env = {**os.environ, "VOHUB_ARCHIVE__OPS": ""}
    addresses = [f"127.0.0.1:{free_port()}" for _ in range(args.archives)]
    serve = [*vohub, "archive", "serve", "--db", db_url(), "--grpc"]
    archives = [start([*serve, a], workdir / f"archive-{a}.log", env) for a in addresses]
    port = free_port()
    gateway = start([*vohub, "gateway", "--bind", f"127.0.0.1:{port}",
                     "--archive", ",".join(addresses), "--workers", str(args.workers),
                     "--log-level", "WARNING"],
                    workdir / "gateway.log")  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/healthz")
    return url, [gateway, *archives]


def start_peer(
    workdir: Path, workers: int, threads: int
) -> tuple[str, list[subprocess.Popen[bytes]]]:
    python = peer_python()
    (workdir / "peer_wsgi.py").write_text(WSGI_PEER.format(url=db_url()))
    port = free_port()
    # gthread: a thread per request in flight, and HTTP keep-alive
    argv = [str(python), "-m", "gunicorn", "--chdir", str(workdir), "--workers", str(workers),
            "--worker-class", "gthread", "--threads", str(threads), "--bind", f"127.0.0.1:{port}",
            "--log-level", "warning", "peer_wsgi:application"]  # fmt: skip
    # voeventdb's database module reads q3c's 1.x install script (<pg sharedir>/contrib/q3c.sql)
    # at import time, to create databases; it skips that on Read the Docs. q3c 2.x ships no
    # such file and this database is made by vohub's migration, so take that path.
    env = {**os.environ, "READTHEDOCS": "True"}
    server = start(argv, workdir / "peer.log", env)
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/apiv1/")
    return url, [server]


#: The requests measured, as named in the report.
KINDS = ("count_cone_time", "list_page", "stream_map", "packet_xml")


def request_mix(n: int, count: int = 400, seed: int = 0) -> dict[str, list[str]]:
    """The same concrete URL paths for both servers: random cones, dates, streams, offsets,
    roles and IVORNs (seeded; a new seed each round), so no answer is asked for twice in a
    row and neither server gains from a cache of its own (neither caches answers)."""
    rng = random.Random(20161001 + seed)
    mix: dict[str, list[str]] = {kind: [] for kind in KINDS}
    for _ in range(count):
        cone = json.dumps([round(rng.uniform(0, 360), 3), round(rng.uniform(-80, 80), 3), 5.0])
        since = f"{rng.randint(2014, 2022)}-{rng.randint(1, 12):02d}-01"
        mix["count_cone_time"].append(
            f"/apiv1/count?cone={quote_plus(cone)}&authored_since={since}"
        )
        stream = quote_plus(rng.choice(STREAMS))
        mix["list_page"].append(
            f"/apiv1/list/ivorn?stream={stream}&limit=100&offset={rng.randint(0, 40) * 100}"
        )
        role = rng.choice(["", "observation", "utility", "test"])
        mix["stream_map"].append("/apiv1/map/stream_count" + (f"?role={role}" if role else ""))
        g = rng.randint(1, n)
        ivorn = f"ivo://{STREAMS[g % 20]}#bench-{g}"
        mix["packet_xml"].append("/apiv1/packet/xml/" + quote_plus(ivorn))
    return mix


def check_same_answers(vohub: str, peer: str, mix: dict[str, list[str]]) -> None:
    """Both servers give the same results for a sample of the mix (the comparison is fair)."""
    for kind, paths in mix.items():
        for path in paths[:5]:
            answers = []
            for base in (vohub, peer):
                with urllib.request.urlopen(base + path, timeout=120) as reply:
                    body = reply.read()
                answers.append(body if kind == "packet_xml" else json.loads(body)["result"])
            if answers[0] != answers[1]:
                raise SystemExit(f"{kind}: vohub and voeventdb differ on {path}")


#: Command-line markers of the processes whose CPU time is reported, and their names.
COMPONENTS = (
    ("archive serve", "archive"),
    ("vohub.cli gateway", "gateway"),
    ("peer_wsgi:application", "voeventdb"),
    (f"{DB_NAME} 127.0.0.1", "postgres"),
)


def cpu_seconds(components: tuple[tuple[str, str], ...] = COMPONENTS) -> dict[str, float]:
    """CPU seconds so far of each side's processes, by component (from /proc).

    Components are (command-line marker, name) pairs. Only this run's servers count (the
    bench's descendants, and PostgreSQL's backends on the bench database): another gateway or
    archive on the machine is not this one.
    """
    found: dict[str, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    processes: dict[int, tuple[int, str, float]] = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        seconds = (int(fields[11]) + int(fields[12])) / tick
        processes[int(pid)] = (int(fields[1]), command, seconds)
    for pid, (_, command, seconds) in processes.items():
        for marker, name in components:
            if marker in command and (name == "postgres" or _descends(pid, processes)):
                found[name] = found.get(name, 0.0) + seconds
                break
    return found


def _descends(pid: int, processes: dict[int, tuple[int, str, float]]) -> bool:
    """Whether ``pid`` is a descendant of this process."""
    me = os.getpid()
    while pid in processes and pid > 1:
        pid = processes[pid][0]
        if pid == me:
            return True
    return False


def measure(url: str, paths: list[str], args: argparse.Namespace) -> dict[str, float]:
    """One cell: the load's figures plus CPU milliseconds per request of each component."""
    before = cpu_seconds()
    result = run_load(url, paths, args.concurrency, args.seconds)
    after = cpu_seconds()
    answered = max(result["rps"] * args.seconds, 1.0)
    for name, total in after.items():
        result[f"cpu {name}"] = (total - before.get(name, 0.0)) * 1000 / answered
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--packets", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4, help="per voeventdb worker")
    parser.add_argument("--archives", type=int, default=1, help="vohub archive servers")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=6.0, help="per server, type, round")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--only", action="append", choices=KINDS, metavar="KIND",
                        help="measure only this request (repeatable; default: all of "
                        + ", ".join(KINDS) + ")")  # fmt: skip
    args = parser.parse_args()
    if args.rebuild or packet_count() < args.packets:
        build_database(args.packets)
    prepare_database()
    n = packet_count()
    workdir = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
    vohub_url, vohub_procs = start_vohub(workdir, args)
    peer_url, peer_procs = start_peer(workdir, args.workers, args.threads)
    rounds: list[dict[tuple[str, str], dict[str, float]]] = []
    try:
        check_same_answers(vohub_url, peer_url, request_mix(n, seed=0))
        for k in range(args.rounds):
            mix = request_mix(n, seed=k + 1)  # fresh parameters each round
            servers = [("vohub", vohub_url), ("voeventdb", peer_url)]
            results = {}
            for kind, paths in mix.items():
                if args.only and kind not in args.only:
                    continue
                for name, url in servers if k % 2 == 0 else servers[::-1]:
                    results[name, kind] = measure(url, paths, args)
            rounds.append(results)
            print(f"round {k + 1}/{args.rounds} done, load {os.getloadavg()[0]:.2f}", flush=True)
    finally:
        for process in [*vohub_procs, *peer_procs]:
            stop(process)
    report(rounds, n, args)
    return 0


def report(rounds: list[dict[tuple[str, str], dict[str, float]]], n: int,
           args: argparse.Namespace) -> None:  # fmt: skip
    def med(name: str, kind: str, key: str) -> float:
        return statistics.median(r[name, kind].get(key, 0.0) for r in rounds)

    print(f"\n{n} packets on PostgreSQL + q3c; both under gunicorn with {args.workers} workers "
          f"(vohub asyncio, {args.archives} archive servers; voeventdb gthread x {args.threads}); "
          f"{args.concurrency} keep-alive wrk connections; "
          f"medians of {len(rounds)} interleaved rounds, {args.seconds:g} s per cell")  # fmt: skip
    head = f"{'request':<16} {'server':<10} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>9} {'errors':>6}"
    print(head + "   CPU ms per request\n" + "-" * len(head))
    for kind in dict.fromkeys(k for _, k in rounds[0]):
        for name in ("vohub", "voeventdb"):
            cpu = {c: med(name, kind, f"cpu {c}") for _, c in COMPONENTS}
            shown = " ".join(f"{c} {v:.2f}" for c, v in cpu.items() if v > 0.05)
            print(f"{kind:<16} {name:<10} {med(name, kind, 'rps'):>8.1f} "
                  f"{med(name, kind, 'p50'):>8.1f} {med(name, kind, 'p99'):>9.1f} "
                  f"{int(med(name, kind, 'errors')):>6}   {shown}")  # fmt: skip
        rps = med("vohub", kind, "rps") / max(med("voeventdb", kind, "rps"), 1e-9)
        p99 = med("vohub", kind, "p99") / max(med("voeventdb", kind, "p99"), 1e-9)
        print(
            f"{'':<16} {'ratio':<10} {rps:>7.1f}x {'':>8} {p99:>8.2f}x   "
            "(throughput vohub/voeventdb; p99 vohub/voeventdb)"
        )


if __name__ == "__main__":
    sys.exit(main())

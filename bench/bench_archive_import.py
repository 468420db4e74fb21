"""Import the shared voeventdb dumps into PostgreSQL: vohub's archive vs voeventdb.server 1.3.4.

Run: ``.venv/bin/python bench/bench_archive_import.py [--no-peer] [--rounds 3]``.  Both
importers load the same four tarballs (data/tarballs/, 85 039 packets) into fresh PostgreSQL
databases on 127.0.0.1:5432 (user postgres), in interleaved rounds (vohub first, then
voeventdb first, ...); the median packets/s of each over the rounds and their ratio are
printed.  vohub runs ``vohub archive import`` as shipped (two reader processes decompress
and parse, the main process writes with COPY); voeventdb runs its own loader, one process.

voeventdb.server runs on Python 3.8 from a virtual environment built on
first use under bench/.peers/voeventdb (Flask 1.1.4, Werkzeug 1.0.1, SQLAlchemy 1.3.24,
psycopg2-binary, voevent-parse 1.0.3).  Its set-up loads q3c by executing
``<pg_config --sharedir>/contrib/q3c.sql``, which q3c 2.x no longer ships, so the peer runs
with a ``pg_config`` shim on PATH pointing at a five-line q3c.sql that says
``CREATE EXTENSION IF NOT EXISTS q3c``.  Its connection settings (user = OS login,
host localhost) are pointed at the test server by a small driver.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
TARBALLS = sorted((ROOT / "data" / "tarballs").glob("*.tar.bz2"))
PEERS = ROOT / "bench" / ".peers"
PEER_VENV = PEERS / "voeventdb"
PEER_PINS = [
    "voeventdb.server==1.3.4",
    "Flask==1.1.4",
    "Werkzeug==1.0.1",
    "SQLAlchemy==1.3.24",
    "psycopg2-binary",
    "voevent-parse==1.0.3",
    "Jinja2<3.0",
    "itsdangerous<2.0",
    "MarkupSafe<2.1",
    "gunicorn<23",  # bench_gateway serves it
]
PG_HOST = "postgresql://postgres@127.0.0.1:5432"
PG_SA = PG_HOST.replace("postgresql://", "postgresql+psycopg2://")
VOHUB = [sys.executable, "-m", "vohub.cli", "archive"]

# Runs inside the peer's Python 3.8: create a database, ingest tarballs, or time API queries.
PEER_DRIVER = r"""
import json, sys, time, logging
logging.disable(logging.WARNING)
from sqlalchemy.engine.url import URL
import voeventdb.server.database.config as dbconfig
dbconfig.default_admin_db_params.update(
    drivername="postgresql", username="postgres", password=None, host="127.0.0.1",
    database="postgres")
dbconfig.default_admin_db_url = URL(**dbconfig.default_admin_db_params)
from sqlalchemy import create_engine
from sqlalchemy.orm import Session
from voeventdb.server.database import db_utils, ingest

command, dbname = sys.argv[1], sys.argv[2]
url = dbconfig.make_db_url(dbconfig.default_admin_db_params, dbname)
if command == "create":
    db_utils.create_empty_database(dbconfig.default_admin_db_url, dbname)
    engine = create_engine(url)
    db_utils.create_tables_and_indexes(engine.connect())
elif command == "ingest":
    loaded = 0
    for path in sys.argv[3:]:   # as voeventdb_ingest_tarball.py does
        session = Session(bind=create_engine(url))
        loaded += ingest.load_from_tarfile(session, tarfile_path=path,
                                           check_for_duplicates=False)[1]
        session.close()
    print(json.dumps({"loaded": loaded}))
elif command == "query":
    from voeventdb.server.database import session_registry
    from voeventdb.server.restapi.app import app
    session_registry.configure(bind=create_engine(url))
    plan = json.load(open(sys.argv[3]))
    client = app.test_client()
    out = {}
    for name, paths in plan["queries"].items():
        for path in paths[: plan["warmup"]]:
            assert client.get(path).status_code == 200, path
        times = []
        for path in paths[plan["warmup"]:]:
            start = time.perf_counter()
            reply = client.get(path)
            times.append(time.perf_counter() - start)
            assert reply.status_code == 200, (path, reply.data[:200])
        out[name] = times
    print(json.dumps(out))
"""
SHIM_Q3C = (
    "-- q3c 2.x ships as an extension; voeventdb.server 1.3.4 executes this file\n"
    "-- with its first two and last two lines removed\n"
    "CREATE EXTENSION IF NOT EXISTS q3c;\n"
    "-- end\n"
    "-- end\n"
)


def admin_execute(*statements: str) -> None:
    engine = create_engine(f"{PG_SA}/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        for statement in statements:
            connection.execute(text(statement))
    engine.dispose()


def fresh_database(name: str, q3c: bool = True) -> str:
    admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    return f"{PG_HOST}/{name}"


def drop_database(name: str) -> None:
    admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def python38() -> list[str]:
    """A command running Python 3.8 (pyenv's shim needs the version named when not global)."""
    found = shutil.which("python3.8")
    env_versions = subprocess.run(["pyenv", "versions", "--bare"], capture_output=True, text=True)
    for version in env_versions.stdout.split():
        if version.startswith("3.8"):
            return ["env", f"PYENV_VERSION={version}", found or "python3.8"]
    if found:
        return [found]
    raise SystemExit("python3.8 is needed for the voeventdb.server peer (pyenv install 3.8)")


def peer_python() -> Path:
    """The peer venv's python, building the venv on first use."""
    python = PEER_VENV / "bin" / "python"
    if not (PEER_VENV / "bin" / "gunicorn").exists():  # the last pin: the venv is complete
        print("building the voeventdb.server 1.3.4 peer under bench/.peers ...", flush=True)
        PEERS.mkdir(parents=True, exist_ok=True)
        if not python.exists():
            subprocess.run([*python38(), "-m", "venv", str(PEER_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PEER_PINS], check=True)
    return python


def run_peer(*args: str) -> str:
    """Run the peer driver with the pg_config/q3c shim on PATH; returns its stdout."""
    with tempfile.TemporaryDirectory() as tmp:
        share = Path(tmp) / "share"
        (share / "contrib").mkdir(parents=True)
        (share / "contrib" / "q3c.sql").write_text(SHIM_Q3C)
        shim = Path(tmp) / "bin"
        shim.mkdir()
        (shim / "pg_config").write_text(f"#!/bin/sh\necho {share}\n")
        (shim / "pg_config").chmod(0o755)
        driver = Path(tmp) / "driver.py"
        driver.write_text(PEER_DRIVER)
        env = {**os.environ, "PATH": f"{shim}:{os.environ['PATH']}"}
        done = subprocess.run(
            [str(peer_python()), str(driver), *args], env=env, capture_output=True, text=True
        )
    if done.returncode != 0:
        raise SystemExit(f"peer {args[0]} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def vohub_import(name: str, tarballs: list[Path]) -> tuple[float, str]:
    """Import into a fresh database with ``vohub archive import``; (seconds, summary line)."""
    url = fresh_database(name)
    subprocess.run([*VOHUB, "--db", url, "migrate"], check=True, capture_output=True)
    start = time.perf_counter()
    done = subprocess.run(
        [*VOHUB, "--db", url, "import", *map(str, tarballs)],
        check=True,
        capture_output=True,
        text=True,
    )
    return time.perf_counter() - start, done.stdout.splitlines()[0]


def peer_import(name: str, tarballs: list[Path]) -> tuple[float, int]:
    """Import into a fresh database with voeventdb.server's own loader; (seconds, loaded)."""
    drop_database(name)
    run_peer("create", name)
    start = time.perf_counter()
    out = run_peer("ingest", name, *map(str, tarballs))
    return time.perf_counter() - start, int(json.loads(out.splitlines()[-1])["loaded"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-peer", action="store_true", help="skip voeventdb.server")
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    args = parser.parse_args()
    packets = 85_039
    print(f"load average at start: {os.getloadavg()[0]:.2f} (2 cores)", flush=True)
    ours: list[float] = []
    theirs: list[float] = []
    for k in range(args.rounds):
        order = ["vohub", "voeventdb"] if k % 2 == 0 else ["voeventdb", "vohub"]
        for system in order:
            if system == "vohub":
                seconds, summary = vohub_import("bench_vohub_import", TARBALLS)
                ours.append(packets / seconds)
                print(
                    f"round {k + 1}: vohub     {packets / seconds:7.0f}/s  ({summary})", flush=True
                )
            elif not args.no_peer:
                seconds, loaded = peer_import("bench_voeventdb_import", TARBALLS)
                theirs.append(loaded / seconds)
                print(
                    f"round {k + 1}: voeventdb {loaded / seconds:7.0f}/s  ({loaded} packets)",
                    flush=True,
                )
    print(f"\nmedians of {args.rounds} interleaved rounds, {packets} packets each:")
    print(f"vohub archive import     {statistics.median(ours):7.0f} packets/s")
    if theirs:
        print(f"voeventdb.server 1.3.4   {statistics.median(theirs):7.0f} packets/s")
        ratios = ", ".join(f"{o / t:.1f}x" for o, t in zip(ours, theirs, strict=True))
        median_ratio = statistics.median(ours) / statistics.median(theirs)
        print(f"ratio (vohub / voeventdb): {median_ratio:.1f}x  (per round: {ratios})")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    if not args.keep:
        drop_database("bench_vohub_import")
        drop_database("bench_voeventdb_import")
    return 0


if __name__ == "__main__":
    sys.exit(main())

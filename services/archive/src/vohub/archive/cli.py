"""``vohub archive``: serve, migrate, import and export dumps, ingest one packet from stdin."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vohub.archive import schema, sources, tarballs
from vohub.archive.config import ArchiveConfig, load
from vohub.archive.db import make_engine, shown, sqlite_file
from vohub.archive.errors import ArchiveError, ArchiveUnusable
from vohub.archive.importer import Summary, import_files
from vohub.archive.ingest import IngestResult, Outcome
from vohub.archive.progress import Progress
from vohub.archive.store import Store
from vohub.common.errors import ConfigError
from vohub.common.logs import configure, get_logger
from vohub.voevent.errors import PacketTooLarge
from vohub.voevent.xmlsafe import read_capped

log = get_logger(__name__)

IMPORT_STATUS = (
    "Exit status: 0 when every packet was stored, or was a duplicate or a conflict (kept "
    "aside, as the summary lists); 1 when any packet was invalid or a file could not be "
    "read (each is listed; the other files are still imported); 2 for a configuration "
    "error; 130 on Ctrl-C, after a summary of what was stored (run the import again to "
    "finish it)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``archive`` sub-commands and their options."""
    _common(parser, None)
    shared = argparse.ArgumentParser(add_help=False)
    _common(shared, argparse.SUPPRESS)  # the same options after the action too
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    serve = sub.add_parser("serve", help="run the gRPC archive service", parents=[shared])
    serve.add_argument("--grpc", help="listen address HOST:PORT (default 127.0.0.1:50051)")
    serve.add_argument("--ops", help="HTTP address for /metrics and /healthz ('' = off)")
    serve.add_argument("--no-migrate", action="store_true", help="refuse an old schema")
    migrate = sub.add_parser("migrate", help="bring the schema up to date", parents=[shared])
    migrate.add_argument("--check", action="store_true", help="only check the schema")
    sub.add_parser(
        "optimize", help="cluster positions by sky pixel, refresh statistics", parents=[shared]
    )
    imp = sub.add_parser(
        "import",
        help="load voeventdb dump tarballs and saved packet files",
        description=IMPORT_STATUS,
        parents=[shared],
    )
    imp.add_argument(
        "files",
        nargs="+",
        type=Path,
        metavar="PATH",
        help="a dump (.tar.bz2), a packet file, or a folder of either (read recursively)",
    )
    imp.add_argument("--batch", type=int, help="packets per transaction (default 1000)")
    exp = sub.add_parser("export", help="write a voeventdb dump tarball", parents=[shared])
    exp.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="FILE.tar.bz2",
        help="the dump to write; - writes it to standard output (./- is a file named -)",
    )
    exp.add_argument("--since", type=_when, help="author date >= SINCE (ISO 8601, UTC)")
    exp.add_argument("--until", type=_when, help="author date < UNTIL (ISO 8601, UTC)")
    sub.add_parser("ingest", help="store one packet from stdin (a Comet handler)", parents=[shared])


def _common(parser: argparse.ArgumentParser, default: Any) -> None:
    parser.add_argument(
        "--config", type=Path, default=default, help="TOML configuration file ([archive] table)"
    )
    parser.add_argument(
        "--db", default=default, help="SQLAlchemy URL, e.g. sqlite:///hub.db or postgresql://..."
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=default,
        help="folder of the SQLite database used when no --db is set (default ./var)",
    )


def _when(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date: {text!r}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def config_from(args: argparse.Namespace) -> ArchiveConfig:
    """The configuration with the command line's flags applied last."""
    flags = {
        "db": args.db,
        "data_dir": args.data_dir,
        "grpc": getattr(args, "grpc", None),
        "ops": getattr(args, "ops", None),
        "import_batch": getattr(args, "batch", None),
    }
    return load(args.config, overrides=flags)


def run(args: argparse.Namespace) -> int:
    """Run the chosen action; returns the exit status."""
    try:
        config = config_from(args)
        if args.action in ("export", "optimize") or (args.action == "migrate" and args.check):
            require_database(config)  # actions on an existing archive must not create one
    except ConfigError as error:
        print(f"vohub archive: configuration error: {error}", file=sys.stderr)
        return 2
    configure("archive", level=config.log_level, fmt=config.log_format)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        return int(ACTIONS[args.action](config, args))
    except ArchiveError as error:
        print(f"vohub archive {args.action}: {error}", file=sys.stderr)
        return 2 if isinstance(error, ArchiveUnusable) else 1


def require_database(config: ArchiveConfig) -> None:
    """Raise :class:`ConfigError` naming the missing folder or file when the configured
    database is a SQLite file that does not exist (opening it would create an empty one).

    A missing PostgreSQL database is refused by the server itself.
    """
    path = sqlite_file(config.database_url)
    if path is None or path.exists():
        return
    key = "archive.db" if config.db else "archive.data_dir"
    if not path.parent.is_dir():
        raise ConfigError(key, f"no such folder: {path.parent} (so no archive database {path})")
    raise ConfigError(key, f"no such archive database: {path}")


def open_store(config: ArchiveConfig, *, migrate: bool = True) -> Store:
    """A store on the configured database, migrated to head (or checked to be there)."""
    engine = make_engine(config.database_url, pool_size=config.pool_size)
    if migrate:
        schema.upgrade(engine)
    else:
        schema.require_current(engine)
    return Store(engine, max_list_limit=config.max_list_limit)


def serve(config: ArchiveConfig, args: argparse.Namespace) -> int:
    """Run the service until SIGTERM; 2 if its database is unusable (:class:`ArchiveUnusable`:
    it does not exist, its data folder cannot be written, the schema cannot be created or
    upgraded in it, or with --no-migrate is not current; retrying cannot help), 1 on any
    other failure."""
    from vohub.archive.app import create_app  # the gRPC stack: only the service needs it

    try:
        app = create_app(config)
        app.refuse_unusable(migrate=not args.no_migrate)
        app.start()
    except ArchiveUnusable as error:  # retrying cannot help
        log.error("archive.start_failed", error=str(error))
        return 2
    except OSError as error:  # BindError (gRPC) or the ops HTTP server's own bind error
        log.error("archive.start_failed", error=str(error))
        return 1
    app.run_until_signal(migrate=not args.no_migrate)
    if app.fatal is None:
        return 0
    return 2 if isinstance(app.fatal, ArchiveUnusable) else 1


def migrate(config: ArchiveConfig, args: argparse.Namespace) -> int:
    """Upgrade the schema to head, or with --check verify models and schema agree."""
    store = open_store(config, migrate=not args.check)
    if args.check:
        schema.check(store.engine)
    print(f"schema at {schema.current(store.engine)}: {shown(store.engine)}")
    return 0


def optimize(config: ArchiveConfig, args: argparse.Namespace) -> int:
    """Reorganise the database for query speed (see :func:`schema.optimize`); an out-of-date
    schema is left as it is (:class:`SchemaOutOfDate` asks for ``migrate``)."""
    store = open_store(config, migrate=False)
    for statement in schema.optimize(store.engine):
        print(f"done: {statement}")
    return 0


def import_dumps(config: ArchiveConfig, args: argparse.Namespace) -> int:
    """Load every packet of the given dumps, packet files and folders, then refresh the
    planner's statistics if any was stored; print a summary.

    Returns 1 when any packet was invalid or any file could not be read, else 0; on Ctrl-C
    the summary of what was written so far, and 130.
    """
    files = sources.expand(args.files)
    store = open_store(config)
    bar = Progress(sum(path.stat().st_size for path in files))  # bytes
    summary = Summary()
    try:
        import_files(store, files, batch=config.import_batch, progress=bar, summary=summary)
    except KeyboardInterrupt:
        bar.close()
        print("\n".join(summary.lines()))
        print(
            "vohub archive import: interrupted; the packets counted above are stored, "
            "run the same import again to finish",
            file=sys.stderr,
        )
        return 130
    bar.update(bar.total, packets=sum(summary.tally.values()), force=True)
    bar.close()
    if summary.tally[Outcome.STORED]:
        schema.analyze(store.engine)
    print("\n".join(summary.lines()))
    return 1 if summary.tally[Outcome.INVALID] or summary.unreadable else 0


def export_dump(config: ArchiveConfig, args: argparse.Namespace) -> int:
    """Write the packets authored in [since, until) (all packets without bounds) as a dump,
    to the file ``-o`` names or, for ``-o -``, to standard output (then the count goes to
    standard error); 2 when standard output is a terminal."""
    to_stdout = args.output == "-"
    if to_stdout and sys.stdout.isatty():
        print("vohub archive export: -o -: standard output is a terminal", file=sys.stderr)
        return 2
    store = open_store(config, migrate=False)
    bar = Progress(store.dump_size(args.since, args.until))
    output = sys.stdout.buffer if to_stdout else Path(args.output)
    count = tarballs.write(output, _shown(store.dump(args.since, args.until), bar))
    bar.update(count, packets=count, force=True)
    bar.close()
    where = "standard output" if to_stdout else args.output
    print(f"exported {count} packets to {where}", file=sys.stderr if to_stdout else sys.stdout)
    return 0


def _shown(packets: Iterator[tuple[str, bytes]], bar: Progress) -> Iterator[tuple[str, bytes]]:
    """``packets``, redrawing ``bar`` as they are taken."""
    for done, packet in enumerate(packets, 1):
        yield packet
        bar.update(done, packets=done)


def ingest_stdin(config: ArchiveConfig, args: argparse.Namespace) -> int:
    """Store the packet on stdin; exit 0 unless it is invalid (as voeventdb's handler)."""
    store = open_store(config)
    try:
        raw = read_capped(sys.stdin.buffer, "<stdin>")
    except PacketTooLarge as error:
        result = IngestResult("", Outcome.INVALID, error.nak_reason)
    else:
        result = store.ingest([(raw, None)])[0]
    line = f"{result.outcome.value} {result.ivorn}".rstrip()
    # A reason may start with the IVORN the line already names ("ivo://...: already archived").
    reason = result.reason.removeprefix(f"{result.ivorn}: ") if result.ivorn else result.reason
    print(f"{line}: {reason}" if reason else line)
    log.info("ingest.stdin", ivorn=result.ivorn, outcome=result.outcome.value)
    return 1 if result.outcome is Outcome.INVALID else 0


ACTIONS: dict[str, Any] = {
    "serve": serve,
    "migrate": migrate,
    "optimize": optimize,
    "import": import_dumps,
    "export": export_dump,
    "ingest": ingest_stdin,
}


def main(argv: list[str] | None = None) -> int:
    """``python -m vohub.archive ...``: the same as ``vohub archive ...``."""
    parser = argparse.ArgumentParser(prog="vohub archive", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))

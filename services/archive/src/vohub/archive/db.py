"""Open the archive's database: engine set-up per backend and wrapping of connection failures.

SQLite gets WAL journaling, foreign keys, a busy timeout, SQLAlchemy-driven transactions
(so SAVEPOINT works) and the haversine function the cone search calls.  PostgreSQL sessions
run in UTC, so month grouping and timestamps never depend on the server's time zone, and
without JIT compilation (it adds 5-20 ms to any query the planner costs as large, more than
the archive's index-backed queries take in all).
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import sqlite3
import tempfile
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, exc
from sqlalchemy.engine import URL, make_url

from vohub.archive.errors import (
    ArchiveUnavailable,
    DatabaseMissing,
    InvalidQuery,
    StorageUnusable,
    TransactionConflict,
)
from vohub.archive.sky import SIN2HALF, sin2half
from vohub.common.errors import FolderUnusable
from vohub.common.folders import make_folder
from vohub.common.logs import get_logger

P = ParamSpec("P")
T = TypeVar("T")
log = get_logger(__name__)

#: SQLSTATEs of a transaction PostgreSQL aborted so that a concurrent one could go on:
#: deadlock detected, serialization failure.  Running it again normally succeeds.
CONFLICT_STATES = frozenset({"40P01", "40001"})
#: How many times a call aborted by :data:`CONFLICT_STATES` is run again.
CONFLICT_RETRIES = 5

#: What :func:`shown` shows of each engine :func:`make_engine` made.
_SHOWN: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()
#: A password in a database URL: after the user name (where SQLAlchemy's make_url reads it),
#: or libpq's password parameter.
_PASSWORDS = (re.compile(r"^([\w+]+://[^:/]*:)[^@]*(?=@)"), re.compile(r"([?&]password=)[^&]*"))


def make_engine(url: str, *, pool_size: int = 5) -> Engine:
    """An engine for a ``sqlite:///FILE`` or ``postgresql://...`` URL.

    >>> make_engine("sqlite://").dialect.name
    'sqlite'
    >>> make_engine("mysql://x/y")
    Traceback (most recent call last):
    ...
    vohub.archive.errors.InvalidQuery: db: unsupported database 'mysql' (use sqlite or postgresql)
    """
    try:
        parsed = make_url(url)
    except exc.ArgumentError as error:
        raise InvalidQuery("db", f"not a database URL: {url!r} ({error})") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        engine = _sqlite_engine(url)
    elif backend == "postgresql":
        # psycopg2 named: SQLAlchemy's default driver for postgresql:// is psycopg (3) from 2.1.
        engine = _postgresql_engine(parsed.set(drivername="postgresql+psycopg2"), pool_size)
    else:
        raise InvalidQuery("db", f"unsupported database {backend!r} (use sqlite or postgresql)")
    _SHOWN[engine] = _masked(url)
    return engine


def shown(engine: Engine) -> str:
    """The database of ``engine`` for messages and logs: its URL as configured (not the
    driver SQLAlchemy runs it on), password masked; an engine not made by
    :func:`make_engine` shows its own URL.

    >>> shown(make_engine("postgresql://vohub:secret@db.example.org:5433/archive"))
    'postgresql://vohub:***@db.example.org:5433/archive'
    >>> shown(make_engine("postgresql:///archive?host=/run/postgresql&password=secret"))
    'postgresql:///archive?host=/run/postgresql&password=***'
    >>> shown(make_engine("postgresql://postgres@127.0.0.1:5432/test"))
    'postgresql://postgres@127.0.0.1:5432/test'
    """
    return _SHOWN.get(engine) or _masked(engine.url.render_as_string(hide_password=False))


def _masked(url: str) -> str:
    for password in _PASSWORDS:
        url = password.sub(r"\1***", url, count=1)
    return url


def _postgresql_engine(url: URL, pool_size: int, **options: Any) -> Engine:
    return create_engine(
        url,
        pool_size=pool_size,
        connect_args={"options": "-c timezone=UTC -c jit=off", "connect_timeout": 5},
        **options,
    )


_READERS: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()


def reader(engine: Engine) -> Engine:
    """An engine for reads beside ``engine``: on PostgreSQL its own pool in autocommit.

    A read then sends its query alone: no BEGIN before it, no ROLLBACK after it, and no
    switching of the connection's mode in and out of autocommit.  It is disposed of with
    ``engine``.  SQLite reads use ``engine`` itself.

    >>> e = make_engine("sqlite://")
    >>> reader(e) is e
    True
    """
    if engine.dialect.name != "postgresql":
        return engine
    found = _READERS.get(engine)
    if found is None:
        size = engine.pool.size()  # type: ignore[attr-defined]
        found = _postgresql_engine(engine.url, size, isolation_level="AUTOCOMMIT")
        _READERS[engine] = found
        event.listen(engine, "engine_disposed", lambda _: found.dispose())
    return found


def sqlite_file(url: str) -> Path | None:
    """The file a ``sqlite:///FILE`` URL opens; None for other databases and in-memory ones.

    >>> sqlite_file("sqlite:///var/archive.db"), sqlite_file("sqlite://")
    (PosixPath('var/archive.db'), None)
    >>> sqlite_file("postgresql://postgres@127.0.0.1/test") is None
    True
    """
    try:
        parsed = make_url(url)
    except exc.ArgumentError:
        return None  # make_engine names the fault
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def _sqlite_engine(url: str) -> Engine:
    database = sqlite_file(url)
    if database is not None:
        _writable(database)
    engine = create_engine(url, connect_args={"timeout": 30})
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _writable(database: Path) -> None:
    """Make sure SQLite can write ``database``, where it would only say "unable to open
    database file": the folder is made if missing and must take new files (the journal goes
    beside the database), and the file, created empty if missing as SQLite does, must open
    for reading and writing.  Raises :class:`StorageUnusable` naming the folder or the file
    with the system's reason (read-only file system, permission denied, is a directory), or
    as not a folder.
    """
    folder = database.parent
    try:
        make_folder(folder)
    except FolderUnusable as exc:
        raise StorageUnusable(exc.key, exc.message) from None
    with _storage(folder, "write in the folder"):
        tempfile.TemporaryFile(dir=folder).close()
    with _storage(database, "open the database for writing"):
        os.close(os.open(database, os.O_RDWR | os.O_CREAT, 0o644))


@contextlib.contextmanager
def _storage(path: Path, action: str) -> Iterator[None]:
    """Turn the system's refusal of ``action`` on ``path`` into :class:`StorageUnusable`."""
    try:
        yield
    except OSError as exc:
        raise StorageUnusable(str(path), f"cannot {action}: {exc.strerror}") from None


def _sqlite_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    # Let SQLAlchemy emit BEGIN itself: pysqlite's own transaction handling breaks SAVEPOINT.
    dbapi_connection.isolation_level = None
    for pragma in ("foreign_keys=ON", "journal_mode=WAL", "synchronous=NORMAL"):
        dbapi_connection.execute(f"PRAGMA {pragma}")
    dbapi_connection.create_function(SIN2HALF, 4, sin2half, deterministic=True)


def _sqlite_begin(connection: Connection) -> None:
    mode = connection.get_execution_options().get("sqlite_begin", "")
    connection.exec_driver_sql(f"BEGIN {mode}".strip())


def retry_stale(method: Callable[P, T]) -> Callable[P, T]:
    """Run ``method`` once more when it failed on a dead pooled connection, and up to
    :data:`CONFLICT_RETRIES` more times when the database aborted it to break a deadlock
    (:class:`TransactionConflict`).

    Connections are not pinged before use (a round trip per query); when one turns out to
    be dead, SQLAlchemy renews the whole pool and the idempotent call is simply repeated.
    A deadlock's victim runs again once the other writer is done (ingest is idempotent by
    IVORN: the packets that writer stored are then duplicates).
    """

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        stale_retried, conflicts = False, 0
        while True:
            try:
                return method(*args, **kwargs)
            except TransactionConflict as error:
                conflicts += 1
                if conflicts > CONFLICT_RETRIES:
                    raise
                log.info("db.conflict_retried", call=method.__name__, reason=error.message)
            except ArchiveUnavailable as error:
                if not error.stale or stale_retried:
                    raise
                stale_retried = True

    return wrapper


@contextlib.contextmanager
def reachable(engine: Engine) -> Iterator[None]:
    """Turn a failure to reach the database into :class:`ArchiveUnavailable` naming it, a
    transaction aborted by a deadlock or a serialization failure into
    :class:`TransactionConflict`, or into :class:`DatabaseMissing` when the PostgreSQL server
    says it has no database of that name.

    The server's refusal carries no SQLSTATE to the client: it is recognised by PostgreSQL's
    message, so a server speaking another language (``lc_messages``) gets the
    :class:`ArchiveUnavailable`, with the server's words.

    >>> with reachable(make_engine("sqlite://")):
    ...     pass
    """
    try:
        yield
    except (exc.OperationalError, exc.InterfaceError) as error:
        where = shown(engine)
        reason = str(error.orig or error).strip().splitlines()[0]
        name = engine.url.database
        if engine.dialect.name == "postgresql" and f'database "{name}" does not exist' in reason:
            raise DatabaseMissing(
                where, f"the server has no database {name!r}: create it, or correct the URL"
            ) from None
        if getattr(error.orig, "pgcode", None) in CONFLICT_STATES:
            raise TransactionConflict(where, f"transaction aborted: {reason}") from error
        stale = bool(getattr(error, "connection_invalidated", False))
        raise ArchiveUnavailable(where, f"database unavailable: {reason}", stale=stale) from error


def ping(engine: Engine) -> None:
    """Run ``SELECT 1``; raises :class:`ArchiveUnavailable` when the database does not answer.

    >>> ping(make_engine("sqlite://"))
    """
    with reachable(engine), engine.connect() as connection:
        connection.exec_driver_sql("SELECT 1")

"""Bring a database's schema to the current Alembic revision, or check that it is there.

Alembic is imported only to change the schema: reading the revision is one query, and the
newest revision is :data:`HEAD`, so ``vohub archive ingest`` (run once per packet as a
Comet handler) does not pay Alembic's 1.4 s import on an up-to-date database.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import ProgrammingError

from vohub.archive.db import reachable, shown
from vohub.archive.errors import ForeignDatabase, MigrationFailed, SchemaOutOfDate
from vohub.archive.models import Base

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: The newest migration in ``migrations/versions`` (a test checks it against Alembic's scripts).
HEAD = "0005"
#: Alembic's bookkeeping table.
VERSION_TABLE = "alembic_version"


def alembic_config(engine: Engine | None = None) -> Config:
    """An Alembic configuration (no ``alembic.ini`` needed), bound to ``engine`` if given."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Run ``alembic upgrade`` on ``engine`` (creating the schema on an empty database).

    A database already at head is left alone without importing Alembic.
    """
    found = current(engine)
    if revision == "head" and found == HEAD:
        return
    if found is None:
        _refuse_foreign_tables(engine)
    from alembic import command

    config = alembic_config(engine)
    with _privileged(engine), reachable(engine), engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


@contextlib.contextmanager
def _privileged(engine: Engine) -> Iterator[None]:
    """Turn the database's refusals (``permission denied for schema public``: the user may
    not create tables, or read them) into :class:`MigrationFailed`."""
    try:
        yield
    except ProgrammingError as exc:
        where = shown(engine)
        reason = str(exc.orig).strip().splitlines()[0]
        raise MigrationFailed(
            where, f"cannot read or change the archive's schema: {reason}"
        ) from None


def _refuse_foreign_tables(engine: Engine) -> None:
    """Raise :class:`ForeignDatabase` if a database without our schema version already has
    tables of our names (a voeventdb database has ``voevent``, ``coord`` and ``cite``)."""
    with reachable(engine), engine.connect() as connection:
        taken = sorted(set(inspect(connection).get_table_names()) & set(Base.metadata.tables))
    if taken:
        where = shown(engine)
        raise ForeignDatabase(
            where,
            f"holds tables {', '.join(taken)} that vohub did not create: not a vohub archive "
            "(a voeventdb database?). Give an empty database; voeventdb's history goes in "
            "with its dump tarballs and vohub archive import",
        )


def downgrade(engine: Engine, revision: str) -> None:
    """Run ``alembic downgrade`` on ``engine`` (``"base"`` drops the whole schema)."""
    from alembic import command

    config = alembic_config(engine)
    with reachable(engine), engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def check(engine: Engine) -> None:
    """Run ``alembic check``: raises if the models and the migrated schema differ."""
    from alembic import command

    config = alembic_config(engine)
    with reachable(engine), engine.connect() as connection:
        config.attributes["connection"] = connection
        command.check(config)


def optimize(engine: Engine) -> list[str]:
    """Reorganise for query speed; returns the statements run.

    On PostgreSQL the positions are clustered on their q3c pixel (the q3c authors' advice:
    a cone then reads a few contiguous pages instead of one page per position), then
    vacuumed (so cone counts are index-only scans) and the planner statistics refreshed; on
    SQLite statistics are refreshed.  CLUSTER locks
    ``coord`` while it runs: do it in a quiet hour, again as the archive grows.
    """
    if engine.dialect.name == "postgresql":
        statements = ["CLUSTER coord USING ix_coord_q3c", "VACUUM ANALYZE"]
    else:
        statements = ["ANALYZE", "PRAGMA optimize"]
    _run(engine, statements)
    return statements


def analyze(engine: Engine) -> None:
    """Refresh the planner's statistics, as after a bulk load: without them PostgreSQL guesses
    row counts, and a server with autovacuum off keeps guessing (some combined filters took
    over 5 s on 85 000 packets, against under 0.1 s with statistics)."""
    _run(engine, ["ANALYZE"])


def _run(engine: Engine, statements: list[str]) -> None:
    with reachable(engine), engine.connect() as connection:
        autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
        for statement in statements:
            autocommit.exec_driver_sql(statement)


def scripts_head() -> str | None:
    """The newest revision among Alembic's migration scripts (what :data:`HEAD` must be)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current(engine: Engine) -> str | None:
    """The database's Alembic revision, or None for an empty database."""
    with _privileged(engine), reachable(engine), engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return None
        found = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
        return None if found is None else str(found)


def require_current(engine: Engine) -> None:
    """Raise :class:`SchemaOutOfDate` unless the database is at the newest revision."""
    found = current(engine)
    if found != HEAD:
        have = f"is at {found}" if found else "is missing (never migrated)"
        raise SchemaOutOfDate(
            shown(engine), f"schema {have}, needs {HEAD}: run vohub archive migrate"
        )

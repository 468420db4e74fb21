"""Fixtures of the archive tests: one migrated database per backend, emptied per test.

``backend`` runs a test on SQLite (a temporary file) and on the real PostgreSQL server; the
PostgreSQL half is marked ``postgres`` and fails, never skips, when the server is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from vohub.archive import schema
from vohub.archive.db import make_engine
from vohub.archive.store import Store
from vohub.testing.postgres import DatabaseFactory

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]
TABLES = ("coord", "cite", "conflict", "rollup", "voevent")


@pytest.fixture(scope="session")
def engine_cache() -> Iterator[dict[tuple[str, str], Engine]]:
    """Engines on migrated databases, by (backend, purpose), disposed at the end."""
    engines: dict[tuple[str, str], Engine] = {}
    yield engines
    for engine in engines.values():
        engine.dispose()


@pytest.fixture
def migrated(
    engine_cache: dict[tuple[str, str], Engine],
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Callable[[str, str], Engine]:
    """``migrated(backend, purpose)``: an engine on a migrated database (made once per run)."""

    def get(backend: str, purpose: str) -> Engine:
        if (backend, purpose) not in engine_cache:
            if backend == "sqlite":
                path = tmp_path_factory.mktemp(f"db-{purpose}") / "archive.db"
                url = f"sqlite:///{path}"
            else:
                factory: DatabaseFactory = request.getfixturevalue("postgres_databases")
                url = factory(purpose)
            engine = make_engine(url)
            schema.upgrade(engine)
            engine_cache[backend, purpose] = engine
        return engine_cache[backend, purpose]

    return get


def _empty(engine: Engine) -> None:
    with engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            connection.execute(text("DELETE FROM coord_sky"))
        for table in TABLES:
            connection.execute(text(f"DELETE FROM {table}"))


@pytest.fixture
def empty() -> Callable[[Engine], None]:
    """``empty(engine)`` deletes every row (and the SQLite sky index) of an archive."""
    return _empty


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The backend under test: "sqlite" or "postgresql"."""
    return str(request.param)


@pytest.fixture
def engine(backend: str, migrated: Callable[[str, str], Engine]) -> Engine:
    """An engine on an empty, migrated archive database of ``backend``."""
    engine = migrated(backend, "unit")
    _empty(engine)
    return engine


@pytest.fixture
def store(engine: Engine) -> Store:
    """A :class:`Store` on an empty archive (parsing with the real VOEvent parser)."""
    return Store(engine)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The repository's ``data/`` folder of real packets and dumps."""
    return Path(__file__).resolve().parents[3] / "data"

"""Real PostgreSQL databases for tests: one per xdist worker and purpose, with q3c, dropped after.

The server is the one on 127.0.0.1:5432 (user ``postgres``, trust authentication), or the
libpq URL in ``VOHUB_TEST_POSTGRES``. If it cannot be reached the fixtures **fail** the test
with the reason: CI must fail, never skip, when PostgreSQL is missing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Connection, create_engine, exc, text

#: Environment variable holding the admin URL of the test server.
URL_ENV = "VOHUB_TEST_POSTGRES"
#: Admin connection used to create and drop test databases.
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

DatabaseFactory = Callable[[str], str]


class PostgresUnavailable(RuntimeError):
    """The test PostgreSQL server cannot be reached or refuses to create a database."""


def admin_url() -> str:
    """The admin URL of the test server.

    >>> admin_url().startswith("postgresql://")
    True
    """
    return os.environ.get(URL_ENV, DEFAULT_ADMIN_URL)


def database_name(purpose: str, worker: str | None = None, pid: int | None = None) -> str:
    """The name of the test database for ``purpose`` in this worker and process.

    >>> database_name("query", worker="gw1", pid=42)
    'vohub_t_gw1_42_query'
    """
    worker = worker or os.environ.get("PYTEST_XDIST_WORKER", "main")
    tag = re.sub(r"[^a-z0-9_]", "_", f"{worker}_{pid or os.getpid()}_{purpose}".lower())
    return f"vohub_t_{tag}"[:63]


def url_of(name: str) -> str:
    """The URL of database ``name`` on the test server.

    >>> url_of("x").rsplit("/", 1)[1]
    'x'
    """
    return admin_url().rsplit("/", 1)[0] + f"/{name}"


def _quoted(name: str) -> str:
    if not re.fullmatch(r"[a-z0-9_]+", name):
        raise ValueError(f"{name!r}: test database names are lower-case letters, digits and _")
    return f'"{name}"'


def _execute(url: str, *statements: str) -> None:
    engine = create_engine(
        url.replace("postgresql://", "postgresql+psycopg2://", 1),
        isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": 5},
    )
    try:
        with engine.connect() as connection:
            _run(connection, statements)
    except exc.OperationalError as error:
        reason = str(error.orig or error).strip().splitlines()[0]
        raise PostgresUnavailable(
            f"PostgreSQL at {url} is unreachable ({reason}); start it, or set "
            f"{URL_ENV} to a server where user postgres may create databases"
        ) from None
    finally:
        engine.dispose()


def _run(connection: Connection, statements: tuple[str, ...]) -> None:
    for statement in statements:
        connection.execute(text(statement))


def create_database(name: str) -> str:
    """(Re)create database ``name`` with the q3c extension and return its URL."""
    quoted = _quoted(name)
    _execute(admin_url(), f"DROP DATABASE IF EXISTS {quoted}", f"CREATE DATABASE {quoted}")
    url = url_of(name)
    _execute(url, "CREATE EXTENSION IF NOT EXISTS q3c")
    return url


def drop_database(name: str) -> None:
    """Drop database ``name`` (closing any connection left to it)."""
    _execute(admin_url(), f"DROP DATABASE IF EXISTS {_quoted(name)} WITH (FORCE)")


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[DatabaseFactory]:
    """``make(purpose) -> URL``: a fresh database for this worker; all dropped at the end."""
    made: list[str] = []

    def make(purpose: str) -> str:
        name = database_name(purpose)
        try:
            url = create_database(name)
        except PostgresUnavailable as error:
            pytest.fail(str(error), pytrace=False)
        made.append(name)
        return url

    yield make
    for name in made:
        drop_database(name)


@pytest.fixture(scope="session")
def postgres_url(postgres_databases: DatabaseFactory) -> str:
    """URL of this worker's general-purpose test database (q3c loaded)."""
    return postgres_databases("main")

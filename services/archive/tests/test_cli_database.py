"""The database ``vohub archive`` is given, as the operator sees it when it cannot be used."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from vohub.testing.archive import archive_cli, archive_command
from vohub.testing.ports import free_port
from vohub.testing.postgres import DatabaseFactory, database_name, url_of
from vohub.testing.process import SupervisedProcess


def assert_refused_by_every_action(
    database: list[str], message: str, cwd: Path | None = None
) -> None:
    """``migrate``, ``ingest`` and ``serve`` (before it listens) all exit 2 with ``message``."""
    for action in ("migrate", "ingest"):
        result = archive_cli(*database, action, cwd=cwd)
        assert (result.returncode, result.stderr) == (2, f"vohub archive {action}: {message}\n")
    argv = archive_command("", f"127.0.0.1:{free_port()}", "--ops", "", *database)
    served = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=cwd)
    assert served.returncode == 2
    assert f'event=archive.start_failed error="{message}"' in served.stderr


@pytest.mark.parametrize(
    ("data_dir", "message"),
    [
        ("var", "var/archive.db: cannot open the database for writing: Is a directory"),
        ("notes/var", "notes/var: not a folder: notes is a file"),
    ],
)
def test_an_unwritable_sqlite_database_is_named_with_the_reason(
    tmp_path: Path, data_dir: str, message: str
) -> None:
    """SQLite said only "unable to open database file" (exit status 1; serve waited forever)."""
    (tmp_path / "var" / "archive.db").mkdir(parents=True)  # a folder where the file goes
    (tmp_path / "notes").write_text("a file where the folder goes")
    assert_refused_by_every_action(["--data-dir", data_dir], message, cwd=tmp_path)


@pytest.mark.postgres
def test_database_urls_are_shown_as_configured_with_the_password_masked(
    postgres_databases: DatabaseFactory, tmp_path: Path
) -> None:
    """They were shown as SQLAlchemy runs them (postgresql+psycopg2://...), and migrate printed
    the password."""
    url = postgres_databases("shown").replace("postgres@", "postgres:secret@", 1)  # trust: any
    migrated = archive_cli("--db", url, "migrate")
    masked = url.replace(":secret@", ":***@")
    assert (migrated.returncode, migrated.stdout) == (0, f"schema at 0005: {masked}\n")
    down = "postgresql://postgres:secret@127.0.0.1:1/nothing"
    failed = archive_cli("--db", down, "ingest")
    assert failed.stderr.startswith(
        "vohub archive ingest: postgresql://postgres:***@127.0.0.1:1/nothing: database unavailable:"
    )
    argv = archive_command(down, f"127.0.0.1:{free_port()}", "--ops", "")
    with SupervisedProcess("archive-shown", argv, log_dir=tmp_path) as process:
        process.wait_output("event=archive.listening", deadline=30)
        assert "db=postgresql://postgres:***@127.0.0.1:1/nothing" in process.output()


def test_serve_without_migrating_refuses_a_schema_never_migrated(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """It started, then answered every rpc UNAVAILABLE."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'new.db'}"
    else:
        url = request.getfixturevalue("postgres_databases")("never_migrated")
    argv = archive_command(url, f"127.0.0.1:{free_port()}", "--ops", "", "--no-migrate")
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert (
        f'event=archive.start_failed error="{url}: schema is missing (never migrated), '
        'needs 0005: run vohub archive migrate"'
    ) in result.stderr
    assert "archive.listening" not in result.stderr


@pytest.mark.postgres
def test_a_postgresql_database_that_does_not_exist_is_a_configuration_error() -> None:
    """Commands exited with status 1 (database unavailable) and serve waited for ever."""
    name = database_name("absent")  # a test database's name, never created
    url = url_of(name)
    message = f"{url}: the server has no database {name!r}: create it, or correct the URL"
    assert_refused_by_every_action(["--db", url], message)


@pytest.mark.postgres
def test_import_leaves_the_planner_statistics_of_what_it_stored(
    postgres_databases: DatabaseFactory, data_dir: Path
) -> None:
    """On a server with autovacuum off (as this one runs) the planner had none after a bulk
    import, and kept guessing: some combined filters over 85 000 packets took over 5 s."""
    url = postgres_databases("analysed")
    done = archive_cli("--db", url, "import", str(data_dir / "tarballs" / "2020-06.002.tar.bz2"))
    assert done.returncode == 0, done.stderr
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg2://", 1))
    with engine.connect() as connection:
        found = connection.execute(
            text("SELECT DISTINCT tablename FROM pg_stats WHERE tablename IN ('voevent', 'coord')")
        )
        assert sorted(found.scalars()) == ["coord", "voevent"]
    engine.dispose()

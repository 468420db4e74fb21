"""The service's database watcher: it stops the service on a failure it cannot recover from."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from vohub.archive import app as app_module
from vohub.archive.app import create_app
from vohub.archive.config import load
from vohub.archive.errors import SchemaOutOfDate
from vohub.testing.broker import wait_until
from vohub.testing.postgres import DatabaseFactory, create_database, drop_database


def test_an_unexpected_error_stops_the_service_instead_of_leaving_it_unready(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load(env={}, overrides={"data_dir": tmp_path, "grpc": "127.0.0.1:0", "ops": ""})
    app = create_app(config)

    def broken(migrate: bool) -> None:
        raise RuntimeError("a defect")

    monkeypatch.setattr(app, "_probe", broken)
    app.watch_database(migrate=True)  # returns instead of retrying for ever
    assert isinstance(app.fatal, RuntimeError)
    assert app.stopping.is_set()  # what wakes run_until_signal
    assert not app.ready
    app.stop(grace=0)


def test_a_schema_never_migrated_stops_a_service_that_may_not_migrate(tmp_path: Path) -> None:
    """The database was down when the service started: the watcher meets the schema later."""
    config = load(env={}, overrides={"data_dir": tmp_path, "grpc": "127.0.0.1:0", "ops": ""})
    app = create_app(config)
    watcher = threading.Thread(target=app.watch_database, args=(False,), daemon=True)
    watcher.start()
    watcher.join(timeout=10)  # it waited for ever, NOT_SERVING
    app.stopping.set()
    watcher.join()
    assert isinstance(app.fatal, SchemaOutOfDate)
    app.stop(grace=0)


@pytest.mark.postgres
def test_a_database_dropped_while_serving_is_waited_for(
    postgres_databases: DatabaseFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once the service has served, a missing database is an outage, not a mistyped name (that
    is refused at start): the service waits NOT_SERVING, while brokers spool, and serves again
    once the database is back. It stopped with status 2, and under vohub up the whole hub."""
    monkeypatch.setattr(app_module, "PROBE_EVERY", 0.1)
    url = postgres_databases("dropped")
    app = create_app(load(env={}, overrides={"db": url, "grpc": "127.0.0.1:0", "ops": ""}))
    watcher = threading.Thread(target=app.watch_database, args=(True,), daemon=True)
    watcher.start()
    try:
        wait_until(lambda: app.ready, what="serving")
        drop_database(url.rsplit("/", 1)[1])
        wait_until(lambda: not app.ready, what="not serving")
        app.stopping.wait(2.0)  # a few probes (every 0.5 s) meet the missing database
        assert app.fatal is None
        create_database(url.rsplit("/", 1)[1])
        wait_until(lambda: app.ready, what="serving again")  # migrated anew
    finally:
        app.stopping.set()
        watcher.join()
        app.stop(grace=0)

"""The service's database watcher: it stops the service on a failure it cannot recover from."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from vohub.archive.app import create_app
from vohub.archive.config import load
from vohub.archive.errors import SchemaOutOfDate


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

"""Pytest fixtures for vohub tests (registered by the repository's root ``conftest.py``).

``comet`` gives each test a fresh Comet broker (receive and broadcast) on 127.0.0.1;
``comet_factory`` starts more, with options. A missing Comet fails the test: CI must fail, not skip.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from vohub.testing.comet_broker import CometBroker, CometOptions, find_comet_venv, start_comet
from vohub.testing.errors import PeerMissing

CometFactory = Callable[..., CometBroker]


@pytest.fixture(scope="session")
def comet_venv(pytestconfig: pytest.Config) -> Path:
    """Comet's virtual environment; fails the test if it is not installed."""
    try:
        return find_comet_venv(pytestconfig.rootpath)
    except PeerMissing as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def comet_factory(comet_venv: Path, tmp_path: Path) -> Iterator[CometFactory]:
    """Start Comet brokers: ``comet_factory(name="c2", remotes=[...], ...)``; all stop at teardown.

    Keyword arguments are :class:`~vohub.testing.comet_broker.CometOptions` fields.
    """
    started: list[CometBroker] = []

    def factory(name: str = "comet", **options: Any) -> CometBroker:
        broker = start_comet(tmp_path, CometOptions(**options), venv=comet_venv, name=name)
        started.append(broker)
        return broker

    yield factory
    for broker in reversed(started):
        broker.stop()


@pytest.fixture
def comet(comet_factory: CometFactory) -> CometBroker:
    """A fresh Comet 3.1.0 broker with receive and broadcast ports on 127.0.0.1."""
    return comet_factory()

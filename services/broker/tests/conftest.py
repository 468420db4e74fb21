"""Fixtures for the broker's unit tests: real packets with fresh IVORNs, an in-process broker."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from vohub.broker.app import BrokerApp
from vohub.broker.config import load

DATA = Path(__file__).resolve().parents[3] / "data" / "voevents"
BAT = DATA / "fourpisky-core" / "BAT_GRB_Pos_558756-820.xml"
GAIA = DATA / "fourpisky-core" / "Gaia16ajo.xml"
#: Nested counts over every node: on a real packet this runs for about a minute.
RUNAWAY = "count(//node()[count(//node()[count(//node()[count(//node()) > 0]) > 0]) > 0])"

PacketMaker = Callable[..., bytes]
AppFactory = Callable[..., Coroutine[Any, Any, BrokerApp]]


async def wait_for(condition: Callable[[], bool], deadline: float = 20.0) -> None:
    """Poll ``condition`` until it holds (TimeoutError after ``deadline`` seconds)."""
    async with asyncio.timeout(deadline):
        while not condition():  # noqa: ASYNC110 - nothing to wait on but the condition
            await asyncio.sleep(0.02)


def with_ivorn(raw: bytes, ivorn: str) -> bytes:
    """``raw`` with its root ``ivorn`` attribute replaced."""
    return re.sub(rb'ivorn="[^"]*"', f'ivorn="{ivorn}"'.encode(), raw, count=1)


@pytest.fixture
def packet() -> PacketMaker:
    """``packet(n, source=BAT)``: a real packet whose IVORN ends in ``#test-<n>``."""

    def make(n: int, source: Path = BAT) -> bytes:
        return with_ivorn(source.read_bytes(), f"ivo://vohub.test/unit#test-{n}")

    return make


@pytest.fixture
def judge_workers() -> int:
    """Judge processes of the brokers ``app_factory`` starts (a module may parametrize it)."""
    return 0


@pytest.fixture
async def app_factory(tmp_path: Path, judge_workers: int) -> AsyncIterator[AppFactory]:
    """``await app_factory(**settings)``: a started in-process broker on port 0 everywhere."""
    apps: list[BrokerApp] = []

    async def start(archive: Any = None, **settings: Any) -> BrokerApp:
        base = {
            "receive": "127.0.0.1:0",
            "broadcast": "127.0.0.1:0",
            "grpc": "127.0.0.1:0",
            "data_dir": tmp_path / f"broker{len(apps)}",
            "local_ivo": "ivo://vohub.test/unit",
            "iamalive_interval": 0.5,
            "judge_workers": judge_workers,
        }
        config = load(env={}, overrides={**base, **settings})
        app = BrokerApp(config, archive=archive)
        apps.append(app)
        await app.start()
        return app

    yield start
    for app in apps:
        await app.stop(grace=0)

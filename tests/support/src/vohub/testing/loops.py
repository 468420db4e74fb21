"""Which event loop each part's async tests run on: the loop that part runs on in service.

The broker (``vohub.common.aio.run``) and the gateway's gunicorn workers run on uvloop; the
VTP client runs both in the broker (uvloop) and in ``vohub listen`` / ``publish`` (the standard
loop), so its tests run on both. uvloop differs where it matters (a write to a closed pipe
raises there), so a test on the standard loop alone can pass while the service fails.
Everything else runs on the standard loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
import uvloop

LoopFactory = Callable[[], asyncio.AbstractEventLoop]

FACTORIES: dict[str, LoopFactory] = {
    "asyncio": asyncio.new_event_loop,
    "uvloop": uvloop.new_event_loop,
}

#: Folder of the repository -> the loops its async tests run on (first match wins).
LOOPS: dict[str, tuple[str, ...]] = {
    "services/broker/": ("uvloop",),
    "services/gateway/": ("uvloop",),
    "libs/common/": ("uvloop",),
    "libs/vtp/": ("asyncio", "uvloop"),
}


def loops_for(path: str) -> tuple[str, ...]:
    """The loops for a test file, given its path relative to the repository root.

    >>> loops_for("libs/vtp/tests/test_pipeline.py")
    ('asyncio', 'uvloop')
    >>> loops_for("services/archive/tests/test_grpc_api.py")
    ('asyncio',)
    """
    return next((loops for folder, loops in LOOPS.items() if path.startswith(folder)), ("asyncio",))


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> dict[str, LoopFactory]:
    """pytest-asyncio's hook: each async test runs once per loop of its folder."""
    path = item.path.relative_to(config.rootpath).as_posix()
    return {name: FACTORIES[name] for name in loops_for(path)}

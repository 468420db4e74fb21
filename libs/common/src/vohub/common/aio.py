"""The event loop of vohub's asyncio services (the broker): uvloop.

A service's asyncio main runs on uvloop rather than the standard library's loop: its
callbacks, timers and socket I/O run in C, and a worker thread's result reaches the loop
for less. ``grpc.aio`` servers run on it as on any asyncio loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import uvloop

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` to completion on a new uvloop event loop and return its result.

    >>> async def answer() -> int:
    ...     return 42
    >>> run(answer())
    42
    """
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)

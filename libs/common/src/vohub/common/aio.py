"""The event loop of vohub's asyncio services (the broker): uvloop; and ending their tasks.

A service's asyncio main runs on uvloop rather than the standard library's loop: its
callbacks, timers and socket I/O run in C, and a worker thread's result reaches the loop
for less. ``grpc.aio`` servers run on it as on any asyncio loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Coroutine
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


async def cancel_after(tasks: Collection[asyncio.Task[Any]], grace: float) -> None:
    """Wait up to ``grace`` seconds for ``tasks``, then cancel the ones still running and wait
    until they have ended.

    >>> async def demo() -> list[bool]:
    ...     quick = asyncio.create_task(asyncio.sleep(0))
    ...     slow = asyncio.create_task(asyncio.sleep(60))
    ...     await cancel_after({quick, slow}, grace=0.05)
    ...     return [quick.cancelled(), slow.cancelled()]
    >>> asyncio.run(demo())
    [False, True]
    """
    if not tasks:
        return
    _, pending = await asyncio.wait(set(tasks), timeout=grace)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)

"""Start child processes safely on uvloop (the broker's judge, its filters, ``--exec`` commands).

On uvloop, ``asyncio.create_subprocess_exec`` runs Python code in the child between ``fork``
and ``exec`` (the interpreter's after-fork hooks), unlike the standard loop. A garbage
collection there can finalise objects the child inherited, and a gRPC object whose finaliser
joins one of the parent's threads then hangs the child forever (seen in the test suite). The
collector is therefore off from just before the fork until the child exists.
"""

from __future__ import annotations

import asyncio
import gc
from typing import Any


async def spawn(*argv: str, **options: Any) -> asyncio.subprocess.Process:
    """``asyncio.create_subprocess_exec(*argv, **options)`` with no garbage collection in the
    forked child before it execs.

    >>> import asyncio
    >>> async def status() -> int:
    ...     return await (await spawn("true")).wait()
    >>> asyncio.run(status())
    0
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        return await asyncio.create_subprocess_exec(*argv, **options)
    finally:
        if enabled:
            gc.enable()

"""An exclusive lock on a folder for as long as a process holds it: one broker per data folder.

``flock`` on ``<folder>/lock``: the kernel releases it when the descriptor is closed or the
process ends however it ends (no stale lock after a crash), and the descriptor is not inherited
by the commands the broker runs.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from vohub.broker.errors import SpoolInUse


def hold(directory: Path) -> int:
    """Lock ``directory`` and return the descriptor to close to unlock it; raises
    :class:`SpoolInUse` naming the pid of the process that holds it."""
    path = directory / "lock"
    handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(handle, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(handle)
        raise SpoolInUse(
            str(directory), f"in use by another broker (pid {holder}); give each its own data_dir"
        ) from None
    os.ftruncate(handle, 0)
    os.pwrite(handle, f"{os.getpid()}\n".encode(), 0)
    return handle

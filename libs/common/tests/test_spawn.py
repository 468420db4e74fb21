"""No garbage collection can run in a child between fork and exec (uvloop runs Python there)."""

from __future__ import annotations

import gc
import os

from vohub.common.spawn import spawn

#: Where the at-fork hook reports, while a test listens (the hook cannot be unregistered).
_report_fd: int | None = None


def _report_collector_state() -> None:
    if _report_fd is not None:
        os.write(_report_fd, b"on" if gc.isenabled() else b"off")


os.register_at_fork(after_in_child=_report_collector_state)


async def test_the_collector_is_off_in_the_child_before_it_execs() -> None:
    global _report_fd
    read_end, write_end = os.pipe()
    _report_fd = write_end
    try:
        proc = await spawn("true")
        assert await proc.wait() == 0
    finally:
        _report_fd = None
        os.close(write_end)
    with os.fdopen(read_end, "rb") as report:
        assert report.read() == b"off"  # uvloop ran the hook in the child, with the collector off
    assert gc.isenabled()  # and it is back on in the parent

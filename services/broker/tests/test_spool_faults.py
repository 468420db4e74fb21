"""The spool when the disk fails a write (full, or an I/O error) and then recovers."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from vohub.broker import spool as spool_module
from vohub.broker.spool import Spool


def drain(spool: Spool) -> list[str]:
    reader, out = spool.reader(), []
    while batch := reader.read(7, 50_000):
        out += [record.ivorn for record in batch]
    return out


async def test_a_write_cut_short_by_a_full_disk_leaves_no_torn_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Half a record stayed in the segment: the records made durable after it were read as
    corrupt, and cut off at the next start (acknowledged packets lost)."""
    spool = Spool.open(tmp_path)
    await spool.append("ivo://vohub.test/s#1", b"x" * 1000, 1.0)
    real_write = os.write

    def half_then_full(fd: int, data: bytes | memoryview) -> int:
        if len(data) > 100:
            return real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(spool_module.os, "write", half_then_full)
    with pytest.raises(OSError, match="No space left"):
        await spool.append("ivo://vohub.test/s#2", b"y" * 1000, 2.0)
    monkeypatch.setattr(spool_module.os, "write", real_write)
    await spool.append("ivo://vohub.test/s#3", b"z" * 1000, 3.0)
    assert drain(spool) == ["ivo://vohub.test/s#1", "ivo://vohub.test/s#3"]
    await spool.close()
    reopened = Spool.open(tmp_path)
    assert [r.ivorn for r in reopened.recovered] == ["ivo://vohub.test/s#1", "ivo://vohub.test/s#3"]
    await reopened.close()

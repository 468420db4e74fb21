"""The spool, and the broker, when the disk fails a write (full, or an I/O error) and then
recovers. A full disk is made for real in tests/e2e/test_broker_storage.py; a failed fsync
cannot be, so here ``fdatasync`` raises EIO."""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import pytest

from vohub.broker import spool as spool_module
from vohub.broker.fanout import Accepted
from vohub.broker.pipeline import Outcome, Source
from vohub.broker.spool import Spool

from .conftest import AppFactory, PacketMaker, wait_for


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


async def test_after_a_failed_fsync_packets_are_relayed_only_once_durable_until_it_recovers(
    app_factory: AppFactory,
    packet: PacketMaker,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With relay = "accepted", a packet goes out once written, before its fsync: one whose
    fsync then fails has been relayed and is refused (the window the README names). The
    packets after it wait for their fsync, and so are never relayed and refused, until a
    batch is durable again."""
    app = await app_factory()
    relayed: list[str] = []

    def note(batch: Sequence[Accepted]) -> None:
        relayed.extend(accepted.ivorn for accepted in batch)

    app.acceptor.handlers.append(note)
    source = Source("grpc", "test", "127.0.0.1")

    async def submit(n: int) -> Outcome:
        return await app.acceptor.submit(packet(n), source)

    def broken_disk(fd: int) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    real_fdatasync = os.fdatasync
    monkeypatch.setattr(spool_module.os, "fdatasync", broken_disk)
    with caplog.at_level(logging.INFO, logger="vohub.broker.spool"):
        first, second = await submit(1), await submit(2)
        assert (first.status, first.reason) == (
            "rejected", "broker storage failed: Input/output error"
        )  # fmt: skip
        assert second.status == "rejected"
        assert relayed == ["ivo://vohub.test/unit#test-1"]  # not #2: it waited for its fsync
        healthy, details = app.health()
        assert not healthy
        assert details["storage_error"] == (
            f"cannot write the spool in {app.spool.directory}: Input/output error"
        )
        assert app.metrics.value("vohub_broker_storage_failures_total") == 2

        monkeypatch.setattr(spool_module.os, "fdatasync", real_fdatasync)
        assert (await submit(3)).accepted
        await wait_for(lambda: len(relayed) == 2)  # relays go in order: #2 would come first
        assert relayed == ["ivo://vohub.test/unit#test-1", "ivo://vohub.test/unit#test-3"]
        assert app.health() == (True, {"spool_depth": app.spool.depth, "subscribers": 0})

        monkeypatch.setattr(spool_module.os, "fdatasync", broken_disk)
        assert (await submit(4)).status == "rejected"
        assert relayed[-1] == "ivo://vohub.test/unit#test-4"  # relayed before the fsync again
        monkeypatch.setattr(spool_module.os, "fdatasync", real_fdatasync)
    events = [r.getMessage() for r in caplog.records if r.name == "vohub.broker.spool"]
    assert events == ["storage.failed", "storage.recovered", "storage.failed"]

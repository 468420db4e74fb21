"""The durable spool: group commit, reading, acking, and surviving a SIGKILL mid-stream."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vohub.broker.errors import SpoolClosed, SpoolCorrupt, SpoolInUse
from vohub.broker.spool import Record, Spool

WRITER = Path(__file__).with_name("spool_writer.py")


async def fill(spool: Spool, n: int, size: int = 1000) -> None:
    waiters = [spool.append(f"ivo://vohub.test/s#{i}", bytes([i % 256]) * size, float(i))
               for i in range(n)]  # fmt: skip
    for waiter in waiters:
        await waiter


def segments(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.seg"))


def drain(spool: Spool) -> list[Record]:
    reader, out = spool.reader(), []
    while batch := reader.read(7, 50_000):
        out += batch
    return out


async def test_records_come_back_in_order_across_segments(tmp_path: Path) -> None:
    spool = Spool.open(tmp_path, segment_bytes=20_000)
    await fill(spool, 100)
    records = drain(spool)
    assert [r.seq for r in records] == list(range(1, 101))
    assert records[41] == Record(42, 41.0, "ivo://vohub.test/s#41", bytes([41]) * 1000)
    assert len(segments(tmp_path)) > 3
    await spool.close()


async def test_ack_moves_the_checkpoint_and_deletes_spent_segments(tmp_path: Path) -> None:
    spool = Spool.open(tmp_path, segment_bytes=20_000)
    await fill(spool, 100)
    await spool.ack(60)
    assert spool.depth == 40
    await spool.close()
    reopened = Spool.open(tmp_path, segment_bytes=20_000)
    assert [r.seq for r in reopened.recovered] == list(range(61, 101))
    assert [r.seq for r in drain(reopened)] == list(range(61, 101))
    assert all(int(p.stem) > 40 for p in segments(tmp_path))
    assert reopened.next_seq == 101
    await reopened.close()


async def test_a_torn_tail_is_cut_off_and_numbering_goes_on(tmp_path: Path) -> None:
    spool = Spool.open(tmp_path)
    await fill(spool, 5)
    await spool.close()
    (segment,) = segments(tmp_path)
    with segment.open("ab") as handle:
        handle.write(b"\x00\x00\x10\x00garbage")  # a record cut short by a crash
    reopened = Spool.open(tmp_path)
    assert [r.seq for r in reopened.recovered] == [1, 2, 3, 4, 5]
    await fill(reopened, 1)
    assert [r.seq for r in drain(reopened)] == [1, 2, 3, 4, 5, 6]
    await reopened.close()


async def test_a_checkpoint_that_is_not_a_number_is_an_error_naming_it(tmp_path: Path) -> None:
    await Spool.open(tmp_path).close()
    (tmp_path / "checkpoint").write_text("abc\n")
    with pytest.raises(SpoolCorrupt) as caught:
        Spool.open(tmp_path)
    assert str(caught.value) == f"{tmp_path}/checkpoint: checkpoint is not a sequence number: 'abc'"
    (tmp_path / "checkpoint").write_text("0\n")
    await Spool.open(tmp_path).close()  # the failed open let go of the lock


async def test_append_after_close_is_refused(tmp_path: Path) -> None:
    spool = Spool.open(tmp_path)
    await spool.close()
    with pytest.raises(SpoolClosed, match=r"ivo://vohub\.test/s#1"):
        spool.append("ivo://vohub.test/s#1", b"x", 0.0)


async def test_concurrent_appends_share_fsyncs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    real = os.fdatasync
    monkeypatch.setattr(os, "fdatasync", lambda fd: (calls.append(fd), real(fd))[1])
    spool = Spool.open(tmp_path)
    await fill(spool, 200)
    assert len(calls) < 50  # 200 records, grouped
    await spool.close()


def test_sigkill_mid_stream_loses_no_durable_record_and_duplicates_none(tmp_path: Path) -> None:
    argv = [sys.executable, str(WRITER), str(tmp_path)]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as writer:
        assert writer.stdout is not None
        acked: list[int] = []
        deadline = time.monotonic() + 30
        while len(acked) < 400 and time.monotonic() < deadline:
            acked.append(int(writer.stdout.readline()))
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait()
        acked += [int(line) for line in writer.stdout.read().split()]
    assert len(acked) >= 400
    spool = Spool.open(tmp_path, segment_bytes=200_000)
    found = {r.seq: r for r in spool.recovered}
    assert len(found) == len(spool.recovered), "a sequence number appears twice"
    assert set(acked) <= set(found), "a record acked to its writer was lost"
    assert sorted(found) == list(range(1, len(found) + 1))
    for seq, record in found.items():
        assert record.ivorn == f"ivo://vohub.test/crash#{seq}"
        assert record.xml == b"x" * seq * 7


async def test_a_second_broker_on_the_same_folder_is_refused(tmp_path: Path) -> None:
    spool = Spool.open(tmp_path)
    with pytest.raises(
        SpoolInUse, match=rf"^{tmp_path}: in use by another broker \(pid {os.getpid()}\)"
    ):
        Spool.open(tmp_path)
    await spool.close()
    Spool.open(tmp_path)  # released by close (and by the end of the process, however it ends)

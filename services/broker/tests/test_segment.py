"""Reading spool segments back at start-up: a torn tail is cut, damage is set aside, and every
record that can still be read (before and after the damage) is kept."""

from __future__ import annotations

import logging
import struct
from pathlib import Path

import pytest

from vohub.broker.spool import Spool


async def spooled(directory: Path, n: int, segment_bytes: int = 64 << 20) -> list[Path]:
    """Spool ``n`` packets of 1000 bytes durably (no archive: none is acked); the segments."""
    spool = Spool.open(directory, segment_bytes=segment_bytes)
    for waiter in [spool.append(f"ivo://vohub.test/s#{i}", b"x" * 1000, float(i))
                   for i in range(1, n + 1)]:  # fmt: skip
        await waiter
    await spool.close()
    return files(directory, "*.seg")


def files(directory: Path, pattern: str) -> list[Path]:
    return sorted(directory.glob(pattern))


def offsets(segment: Path) -> list[int]:
    """Where each record of ``segment`` starts (read from the length prefixes)."""
    data, found, offset = segment.read_bytes(), [], 0
    while offset < len(data):
        found.append(offset)
        offset += 8 + struct.unpack_from(">I", data, offset)[0]
    return found


def flip(segment: Path, offset: int) -> bytes:
    """Invert the byte at ``offset``; the damaged bytes."""
    data = bytearray(segment.read_bytes())
    data[offset] ^= 0xFF
    segment.write_bytes(bytes(data))
    return bytes(data)


async def reopen(directory: Path, caplog: pytest.LogCaptureFixture, **options: int) -> list[int]:
    """Open the spool again, as a restarted broker does; the sequence numbers it recovered."""
    with caplog.at_level(logging.WARNING, logger="vohub.broker.segment"):
        spool = Spool.open(directory, **options)
    await spool.close()
    return [r.seq for r in spool.recovered]


def logged(caplog: pytest.LogCaptureFixture, event: str) -> list[dict[str, object]]:
    return [r.vohub_fields for r in caplog.records if r.getMessage() == event]  # type: ignore[attr-defined]


async def test_a_bad_crc_mid_segment_costs_that_record_alone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Records 3-10 were durable and acked: they were cut off with record 3, silently."""
    (segment,) = await spooled(tmp_path, 10)
    third = offsets(segment)[2]
    damaged = flip(segment, third + 200)
    assert await reopen(tmp_path, caplog) == [1, 2, 4, 5, 6, 7, 8, 9, 10]
    copy = tmp_path / f"{segment.name}.corrupt"
    assert copy.read_bytes() == damaged  # the evidence, byte for byte
    assert logged(caplog, "spool.segment_damaged") == [{
        "segment": str(segment), "offset": third, "damaged_bytes": offsets(copy)[3] - third,
        "records_kept": 9, "lost_seqs": "3", "copy": str(copy),
    }]  # fmt: skip
    caplog.clear()
    assert await reopen(tmp_path, caplog) == [
        1,
        2,
        4,
        5,
        6,
        7,
        8,
        9,
        10,
    ]  # repaired: once is enough
    assert logged(caplog, "spool.segment_damaged") == []
    assert files(tmp_path, "*.corrupt*") == [copy]


async def test_a_damaged_length_does_not_hide_the_records_after_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A length made huge looked like a record cut short by a crash: all after it were cut."""
    (segment,) = await spooled(tmp_path, 10)
    flip(segment, offsets(segment)[4])  # the top byte of record 5's length
    assert await reopen(tmp_path, caplog) == [1, 2, 3, 4, 6, 7, 8, 9, 10]
    [damage] = logged(caplog, "spool.segment_damaged")
    assert damage["lost_seqs"] == "5"


async def test_damage_in_an_older_segment_costs_only_its_records(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first, *_ = await spooled(tmp_path, 10, segment_bytes=3000)
    flip(first, 20)  # inside record 1
    assert await reopen(tmp_path, caplog, segment_bytes=3000) == list(range(2, 11))
    [damage] = logged(caplog, "spool.segment_damaged")
    assert (damage["segment"], damage["lost_seqs"]) == (str(first), "1")


async def test_stray_bytes_at_the_end_of_an_older_segment_are_kept_aside(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Only the newest segment can end in a torn write; anything else there is damage."""
    first, *_ = await spooled(tmp_path, 10, segment_bytes=3000)
    with first.open("ab") as handle:
        handle.write(b"\x00\x00\x10\x00garbage")
    assert await reopen(tmp_path, caplog, segment_bytes=3000) == list(range(1, 11))
    [damage] = logged(caplog, "spool.segment_damaged")
    assert (damage["damaged_bytes"], damage["lost_seqs"]) == (11, "none")
    assert (tmp_path / f"{first.name}.corrupt").exists()


async def test_a_complete_last_record_failing_its_crc_is_not_cut_unseen(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """It was written whole and fsync'd, so it may have been acked: kept aside, and logged."""
    (segment,) = await spooled(tmp_path, 4)
    damaged = flip(segment, offsets(segment)[3] + 100)
    assert await reopen(tmp_path, caplog) == [1, 2, 3]
    [damage] = logged(caplog, "spool.segment_damaged")
    assert damage["lost_seqs"] == "4-"
    assert (tmp_path / f"{segment.name}.corrupt").read_bytes() == damaged


async def test_a_torn_tail_alone_is_cut_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (segment,) = await spooled(tmp_path, 3)
    size = segment.stat().st_size
    with segment.open("ab") as handle:
        handle.write(b"\x00\x00\x10\x00half a record")  # a write cut short by a crash
    assert await reopen(tmp_path, caplog) == [1, 2, 3]
    assert segment.stat().st_size == size
    assert logged(caplog, "spool.torn_tail_cut") == [
        {"segment": str(segment), "offset": size, "bytes": 17}
    ]
    assert logged(caplog, "spool.segment_damaged") == []
    assert files(tmp_path, "*.corrupt*") == []


async def test_damage_and_a_torn_tail_together(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The damage is set aside; the torn record, never acked, is not reported as lost."""
    (segment,) = await spooled(tmp_path, 5)
    flip(segment, offsets(segment)[1] + 50)
    with segment.open("ab") as handle:
        handle.write(b"\x00\x00\x10\x00half a record")
    assert await reopen(tmp_path, caplog) == [1, 3, 4, 5]
    [damage] = logged(caplog, "spool.segment_damaged")
    assert damage["lost_seqs"] == "2"


async def test_the_spool_goes_on_after_damage(tmp_path: Path) -> None:
    """New records follow the kept ones, in the repaired segment, and read back in order; the
    depth counts only the records there are."""
    (segment,) = await spooled(tmp_path, 5)
    flip(segment, offsets(segment)[2] + 50)
    spool = Spool.open(tmp_path)
    assert spool.depth == 4
    await spool.append("ivo://vohub.test/s#6", b"y" * 10, 6.0)
    assert spool.depth == 5
    reader, seen = spool.reader(), []
    while batch := reader.read(2, 50_000):
        seen += [r.ivorn.rpartition("#")[2] for r in batch]
    assert seen == ["1", "2", "4", "5", "6"]
    await spool.ack(4)
    assert spool.depth == 2
    await spool.close()
    again = Spool.open(tmp_path)
    assert [r.ivorn.rpartition("#")[2] for r in again.recovered] == ["5", "6"]
    assert again.depth == 2
    await again.close()

"""Spool segment files: the record format, and reading a segment back at start-up.

A record on disk is::

    u32 body length | u32 CRC-32 of body | body = u64 seq, f64 received (Unix s),
                                                 u16 IVORN length, IVORN, packet bytes

Recovery at start-up (:func:`recover`) tells a torn tail from damage:

* A *torn tail* is an incomplete record at the end of the last segment, with no readable
  record after it: a process killed mid-write, before the fsync, so no author was told the
  packet was accepted. It is cut off (logged as ``spool.torn_tail_cut``).
* Anything else that cannot be read is *damage*: a record that fails its CRC, a length that
  is wrong, stray bytes in an earlier segment. Records before and after it may be durable and
  acked, so nothing is cut: the segment is copied whole to ``<name>.seg.corrupt`` (then
  ``.corrupt.2``, …), rewritten with every record that can still be read, and logged as
  ``spool.segment_damaged`` naming the copy, the byte offset and the sequence numbers lost.
  A record's length prefix frames it, so reading goes on after a bad record; if the length
  itself is damaged, the next record is found by its own CRC and a sequence number above the
  last one read.
"""

from __future__ import annotations

import itertools
import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from vohub.broker.errors import SpoolCorrupt
from vohub.common.logs import get_logger

log = get_logger(__name__)

HEAD = struct.Struct(">II")
BODY = struct.Struct(">QdH")
SUFFIX = ".seg"


@dataclass(frozen=True, slots=True)
class Record:
    """One spooled packet."""

    seq: int
    received: float
    ivorn: str
    xml: bytes

    def encode(self) -> bytes:
        """The record's on-disk bytes.

        >>> rec = Record(7, 0.5, "ivo://a.b/c#1", b"<x/>")
        >>> decode(rec.encode(), 0, "demo")[0] == rec
        True
        """
        ivorn = self.ivorn.encode()
        body = BODY.pack(self.seq, self.received, len(ivorn)) + ivorn + self.xml
        return HEAD.pack(len(body), zlib.crc32(body)) + body


def decode(data: bytes | memoryview, offset: int, where: str) -> tuple[Record, int] | None:
    """The record at ``offset`` and the offset after it; None if the bytes stop short.

    Raises SpoolCorrupt if a complete record fails its CRC.
    """
    end = offset + HEAD.size
    if end > len(data):
        return None
    size, crc = HEAD.unpack_from(data, offset)
    if end + size > len(data):
        return None
    body = bytes(data[end : end + size])
    if zlib.crc32(body) != crc or size < BODY.size:
        raise SpoolCorrupt(where, f"bad CRC in the record at offset {offset}")
    seq, received, n = BODY.unpack_from(body)
    try:
        ivorn = body[BODY.size : BODY.size + n].decode()
    except UnicodeDecodeError:
        raise SpoolCorrupt(where, f"bad IVORN in the record at offset {offset}") from None
    return Record(seq, received, ivorn, body[BODY.size + n :]), end + size


def segments(directory: Path) -> list[tuple[int, Path]]:
    """The segments of the spool in ``directory``, as (first sequence number, path), in order."""
    found = [(int(p.stem), p) for p in directory.glob(f"*{SUFFIX}") if p.stem.isdigit()]
    return sorted(found)


def scan(path: Path) -> Iterator[Record]:
    """Every record of a sound segment; raises SpoolCorrupt at the first that cannot be read."""
    data = path.read_bytes()
    offset = 0
    while (found := decode(data, offset, str(path))) is not None:
        record, offset = found
        yield record
    if offset != len(data):
        raise SpoolCorrupt(str(path), f"{len(data) - offset} stray bytes at offset {offset}")


@dataclass(slots=True)
class _Reading:
    """What a tolerant pass over a segment found."""

    records: list[tuple[Record, int, int]]  # each record with its start and end offsets
    damaged: list[tuple[int, int]]  # (offset, length) of each unreadable stretch
    tail: int  # where the unreadable bytes at the end (if any) begin
    torn: bool  # they start with an incomplete record, not a complete but damaged one


def _read(data: bytes, where: str, after: int) -> _Reading:
    """Read every record that can be read, skipping damage; ``after`` is the last seq before."""
    reading = _Reading([], [], len(data), torn=False)
    offset = 0
    while offset < len(data):
        try:
            found = decode(data, offset, where)
            damaged = False
        except SpoolCorrupt:
            found, damaged = None, True
        if found is not None:
            reading.records.append((found[0], offset, found[1]))
            after, offset = found[0].seq, found[1]
            continue
        resume = _next_record(data, offset + 1, after, where)
        if resume is None:
            reading.tail, reading.torn = offset, not damaged
            break
        reading.damaged.append((offset, resume - offset))
        offset = resume
    return reading


def _next_record(data: bytes, start: int, after: int, where: str) -> int | None:
    """The offset of the first readable record from ``start`` numbered above ``after``."""
    for offset in range(start, len(data) - HEAD.size - BODY.size + 1):
        size = int.from_bytes(data[offset : offset + 4])
        if size < BODY.size or offset + HEAD.size + size > len(data):
            continue  # the cheap test first: most offsets give an impossible length
        try:
            found = decode(data, offset, where)
        except SpoolCorrupt:
            continue
        if found is not None and found[0].seq > after:
            return offset
    return None


def recover(path: Path, *, first: int, next_first: int | None) -> list[Record]:
    """The readable records of segment ``path``, repairing it as the module docstring says.

    ``first`` is the sequence number in its name; ``next_first`` the next segment's, or None
    for the newest segment, the only one that may end in a torn tail.
    """
    data = path.read_bytes()
    reading = _read(data, str(path), first - 1)
    cut = len(data) - reading.tail
    torn = bool(cut) and reading.torn and next_first is None
    if cut and not torn:
        reading.damaged.append((reading.tail, cut))
    if reading.damaged:
        lost = _lost(reading, first, next_first, open_end=cut > 0 and not torn)
        _set_aside(path, data, reading, lost)
    elif torn:
        log.warning("spool.torn_tail_cut", segment=str(path), offset=reading.tail, bytes=cut)
        with path.open("r+b") as handle:
            handle.truncate(reading.tail)
            os.fsync(handle.fileno())
    return [record for record, _, _ in reading.records]


def _set_aside(path: Path, data: bytes, reading: _Reading, lost: str) -> None:
    """Copy the damaged segment whole beside it, then rewrite it with its readable records."""
    for n in itertools.count(1):
        copy = path.with_name(path.name + (".corrupt" if n == 1 else f".corrupt.{n}"))
        if not copy.exists():
            break
    _write_synced(copy, data)
    temp = path.with_suffix(".tmp")
    _write_synced(temp, b"".join(data[start:end] for _, start, end in reading.records))
    os.replace(temp, path)  # only now: a crash before this leaves the segment as it was
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    log.error(
        "spool.segment_damaged",
        segment=str(path),
        offset=reading.damaged[0][0],
        damaged_bytes=sum(size for _, size in reading.damaged),
        records_kept=len(reading.records),
        lost_seqs=lost,
        copy=str(copy),
    )


def _lost(reading: _Reading, first: int, next_first: int | None, *, open_end: bool) -> str:
    """The sequence numbers missing from the kept records: ``3``, ``3-5,9``, or ``12-`` when
    the newest segment ends in damage (how many records that held is unknown)."""
    bounds = [first - 1, *(record.seq for record, _, _ in reading.records)]
    if next_first is not None:
        bounds.append(next_first)
    gaps = [str(before + 1) if after - before == 2 else f"{before + 1}-{after - 1}"
            for before, after in itertools.pairwise(bounds) if after - before > 1]  # fmt: skip
    if next_first is None and open_end:
        gaps.append(f"{bounds[-1] + 1}-")
    return ",".join(gaps) or "none"


def _write_synced(path: Path, data: bytes) -> None:
    with path.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())

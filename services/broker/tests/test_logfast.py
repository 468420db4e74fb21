"""The fast formatter writes exactly the lines of vohub.common.logs' formatter."""

from __future__ import annotations

import asyncio
import io
import logging
from datetime import UTC, datetime

import pytest

from vohub.broker.logfast import FastEventFormatter, LoopFlushedStream
from vohub.common.logs import EventFormatter


def record(created: float, message: str, fields: dict[str, object]) -> logging.LogRecord:
    made = logging.LogRecord("vohub.broker.packet", logging.INFO, "", 0, message, None, None)
    made.created = created
    made.vohub_fields = fields  # type: ignore[attr-defined]
    return made


@pytest.mark.parametrize(
    "fields",
    [
        {"ivorn": "ivo://nasa.gsfc.gcn/SWIFT#BAT_GRB_Pos_558756-820", "path": "author",
         "peer": "127.0.0.1:5555", "bytes": 3456},
        {"reason": 'Event rejected: "quoted" and = signs', "empty": "", "none": None},
        {"error": "line one\nline\ttwo", "number": 1.5, "flag": True, "unicode": "é ☃"},
        {"event": "a field named like a base key"},
        {},
    ],
)  # fmt: skip
def test_lines_match_the_reference_formatter(fields: dict[str, object]) -> None:
    created = 1_767_225_600.123
    reference = EventFormatter("broker", "kv", clock=lambda: datetime.fromtimestamp(created, UTC))
    fast = FastEventFormatter("broker", "kv")
    line = record(created, "packet.accepted", fields)
    assert fast.format(line) == reference.format(line)


def test_json_lines_are_left_to_the_reference() -> None:
    line = record(1_767_225_600.5, "packet.refused", {"ivorn": "ivo://a/b#1"})
    assert '"ivorn": "ivo://a/b#1"' in FastEventFormatter("broker", "json").format(line)


class CountingStream(io.StringIO):
    """A stream that counts its flushes."""

    flushes = 0

    def flush(self) -> None:
        self.flushes += 1
        super().flush()


async def test_lines_of_one_loop_turn_are_flushed_once_at_its_end() -> None:
    inner = CountingStream()
    stream = LoopFlushedStream(inner)
    for n in range(3):
        stream.write(f"line {n}\n")
        stream.flush()
    assert inner.flushes == 0  # still this turn
    await asyncio.sleep(0)
    assert inner.flushes == 1
    assert inner.getvalue() == "line 0\nline 1\nline 2\n"


def test_off_the_loop_a_flush_is_immediate() -> None:
    inner = CountingStream()
    stream = LoopFlushedStream(inner)
    stream.write("x\n")
    stream.flush()
    assert inner.flushes == 1

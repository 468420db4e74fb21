"""The fast formatter writes exactly the lines of vohub.common.logs' formatter."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from vohub.broker.logfast import FastEventFormatter, HotLog, LoopFlushedStream, install
from vohub.common.logs import EventFormatter, configure, get_logger


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
        {"ivorn": "ivo://x/y#1\rforged", "escape": "a\x1b[2Jb", "separator": "a\u2028b"},
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


@pytest.fixture
def fast_logs() -> Iterator[io.StringIO]:
    """The broker's logging set-up, writing to a string; the root's handlers restored after."""
    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    out = io.StringIO()
    configure("broker", level="INFO", fmt="kv", stream=out)
    install("broker")
    yield out
    root.handlers[:] = saved
    root.setLevel(level)


def test_the_short_way_writes_the_line_logging_writes(fast_logs: io.StringIO) -> None:
    log = get_logger("vohub.broker.packet")
    fields = {"ivorn": "ivo://a.b/c#1", "path": "author", "peer": "127.0.0.1:1", "bytes": 9}
    log.info("packet.accepted", **fields)
    HotLog(log).info("packet.accepted", **fields)
    first, second = fast_logs.getvalue().splitlines()
    assert first.split(" ", 1)[1] == second.split(" ", 1)[1]  # all but the timestamp


def test_other_handlers_get_records_as_usual(
    fast_logs: io.StringIO, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        HotLog(get_logger("vohub.broker.packet")).info("packet.accepted", ivorn="ivo://a.b/c#1")
    assert [r.getMessage() for r in caplog.records] == ["packet.accepted"]
    assert "event=packet.accepted ivorn=ivo://a.b/c#1" in fast_logs.getvalue()


def test_nothing_is_written_below_the_level(fast_logs: io.StringIO) -> None:
    logging.getLogger().setLevel(logging.WARNING)
    HotLog(get_logger("vohub.broker.packet")).info("packet.accepted", ivorn="ivo://a.b/c#1")
    assert fast_logs.getvalue() == ""

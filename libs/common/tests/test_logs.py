"""Structured log lines."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest

from vohub.common.logs import configure, get_logger


def fixed_clock() -> datetime:
    return datetime(2026, 11, 25, 8, 0, 0, 123456, tzinfo=UTC)


def test_json_lines_carry_fields_and_errors() -> None:
    stream = io.StringIO()
    configure("archive", fmt="json", stream=stream, clock=fixed_clock)
    log = get_logger("vohub.archive.store")
    try:
        raise KeyError("ivo://x/y#1")
    except KeyError:
        log.exception("ingest.failed", ivorn="ivo://x/y#1", batch=3)
    record = json.loads(stream.getvalue())
    assert record == {
        "ts": "2026-11-25T08:00:00.123Z",
        "level": "error",
        "service": "archive",
        "logger": "vohub.archive.store",
        "event": "ingest.failed",
        "ivorn": "ivo://x/y#1",
        "batch": 3,
        "error": "KeyError: 'ivo://x/y#1'",
    }


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("ivo://x/y#1", "ivo://x/y#1"),
        ("ivo://x/y#1\rforged", '"ivo://x/y#1\\rforged"'),
        ("a\x1b[2Jb", '"a\\u001b[2Jb"'),
        ("two\nlines", '"two\\nlines"'),
        ("", '""'),
    ],
)
def test_kv_quotes_every_value_a_terminal_or_parser_could_misread(value: str, shown: str) -> None:
    stream = io.StringIO()
    configure("broker", level="INFO", stream=stream, clock=fixed_clock)
    get_logger("vohub.broker").warning("packet.seen", ivorn=value)
    assert stream.getvalue().rstrip("\n").endswith(f" ivorn={shown}")


def test_kv_quotes_values_with_spaces_and_drops_below_level() -> None:
    stream = io.StringIO()
    configure("broker", level="INFO", stream=stream, clock=fixed_clock)
    log = get_logger("vohub.broker")
    log.debug("noise")
    log.warning("packet.rejected", reason='schema violation: bad "role"', peer=None)
    line = stream.getvalue().strip()
    assert "\n" not in line
    assert line.endswith('event=packet.rejected reason="schema violation: bad \\"role\\"" peer=""')

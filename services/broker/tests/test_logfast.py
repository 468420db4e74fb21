"""The fast formatter writes exactly the lines of vohub.common.logs' formatter."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from vohub.broker.logfast import FastEventFormatter
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

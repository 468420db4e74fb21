"""The judge process: parses packets and checks them against the XSD, off the broker's event loop.

Run by :mod:`vohub.broker.judge` as ``python -m vohub.broker.judge_worker strict|lenient``.
It reads requests from stdin and answers on stdout, framed pickles as in
:mod:`.filter_worker`:

* ``(batch_id, [packet bytes, ...])`` → ``(batch_id, [verdict, ...])``, one verdict per
  packet: None if it passes, else ``(label, reason)``, the :class:`~.pipeline.Refusal` the
  broker's in-process :class:`~.pipeline.schema.CheckSchema` would give (same text), or
  ``("invalid", detail)`` for a packet that is not a well-formed VOEvent.

Batches are answered in the order received.
"""

from __future__ import annotations

import sys
from typing import BinaryIO

from vohub.broker.filter_worker import frame, leave_stop_signals_to_the_broker, read_message
from vohub.broker.pipeline import Refusal, Source
from vohub.broker.pipeline.schema import CheckSchema
from vohub.vtp.errors import VTPError
from vohub.vtp.messages import parse_event

#: What the validators are told of a packet's origin (the schema check does not look).
_NOWHERE = Source("author", "-")
#: The refusal label of a packet that is not a well-formed VOEvent.
UNREADABLE = "invalid"


def judge(packets: list[bytes], check: CheckSchema) -> list[tuple[str, str] | None]:
    """The verdict on each packet: None, or ``(label, reason)`` of its refusal.

    >>> lenient = CheckSchema(strict=False)
    >>> judge([b'<VOEvent role="test" ivorn="ivo://a.b/c#1"/>', b"<VOEvent/"], lenient)[0]
    >>> judge([b"<VOEvent/"], lenient)[0][0]
    'invalid'
    """
    verdicts: list[tuple[str, str] | None] = []
    for raw in packets:
        try:
            refusal: Refusal | None = check(parse_event(raw, any_root=True), _NOWHERE)
        except VTPError as exc:
            refusal = Refusal(UNREADABLE, exc.detail)
        verdicts.append(None if refusal is None else (refusal.label, refusal.reason))
    return verdicts


def serve(inp: BinaryIO, out: BinaryIO, check: CheckSchema) -> None:
    """Answer batches until stdin closes."""
    while (message := read_message(inp)) is not None:
        batch_id, packets = message
        out.write(frame((batch_id, judge(packets, check))))
        out.flush()


def main(argv: list[str]) -> int:
    """Entry point: ``argv[0]`` is the validation level, ``strict`` or ``lenient``."""
    leave_stop_signals_to_the_broker()
    serve(sys.stdin.buffer, sys.stdout.buffer, CheckSchema(strict=argv[0] == "strict"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

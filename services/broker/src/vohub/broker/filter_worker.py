"""The filter sandbox process: evaluates subscribers' XPath filters, so a runaway one can be killed.

Run by :mod:`vohub.broker.filters` as ``python -m vohub.broker.filter_worker PROGRESS_FILE``.
It reads pickled requests from stdin, each framed by a 4-byte big-endian length, and answers
``eval`` requests on stdout the same way:

* ``("set", sub_id, expressions)``: (re)compile a subscriber's filters (Comet semantics,
  :mod:`vohub.vtp.filters`);
* ``("drop", sub_id)``: forget a subscriber;
* ``("eval", batch_id, [packet bytes, ...])``: reply ``(batch_id, [[sub_id, ...], ...])``,
  the subscribers whose filters pass, per packet.

Before each evaluation it writes ``(packet index, sub_id)`` into the memory-mapped progress
file, so when the broker kills it for exceeding its time budget it knows whose filter hung.
"""

from __future__ import annotations

import mmap
import pickle
import signal
import struct
import sys
from typing import Any, BinaryIO

from vohub.vtp.errors import MalformedMessage
from vohub.vtp.filters import FilterSet, compile_filters_lenient
from vohub.vtp.messages import parse_xml

_LEN = struct.Struct(">I")
#: Layout of the progress file: packet index in the batch, subscriber id (-1: idle).
PROGRESS = struct.Struct(">qq")


def read_message(stream: BinaryIO) -> Any:
    """One framed pickle from ``stream``, or None at end of stream."""
    head = stream.read(_LEN.size)
    if len(head) < _LEN.size:
        return None
    return pickle.loads(stream.read(_LEN.unpack(head)[0]))


def frame(message: Any) -> bytes:
    """A message framed for the pipe.

    >>> frame(("drop", 3))[:4] == len(pickle.dumps(("drop", 3))).to_bytes(4, "big")
    True
    """
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _LEN.pack(len(data)) + data


def evaluate(
    filters: dict[int, FilterSet], packets: list[bytes], progress: mmap.mmap | None
) -> list[list[int]]:
    """The ids whose filters pass, per packet; an unreadable packet matches nobody."""
    results: list[list[int]] = []
    for index, packet in enumerate(packets):
        try:
            root = parse_xml(packet)
        except MalformedMessage:
            results.append([])
            continue
        matched = []
        for sub_id, filter_set in filters.items():
            if progress is not None:
                PROGRESS.pack_into(progress, 0, index, sub_id)
            if filter_set.matches(root):
                matched.append(sub_id)
        results.append(matched)
    if progress is not None:
        PROGRESS.pack_into(progress, 0, -1, -1)
    return results


def leave_stop_signals_to_the_broker() -> None:
    """Ignore SIGINT and SIGTERM: the broker ends its workers itself, by closing their stdin.

    A Ctrl-C reaches the terminal's whole process group, and a service manager may signal every
    process of the service; a worker that died of it would print a traceback and make the broker
    report it dead while the broker is stopping it anyway.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def serve(inp: BinaryIO, out: BinaryIO, progress: mmap.mmap | None) -> None:
    """Answer requests until stdin closes."""
    filters: dict[int, FilterSet] = {}
    while (message := read_message(inp)) is not None:
        if message[0] == "set":
            filters[message[1]] = compile_filters_lenient(message[2])[0]
        elif message[0] == "drop":
            filters.pop(message[1], None)
        elif message[0] == "eval":
            out.write(frame((message[1], evaluate(filters, message[2], progress))))
            out.flush()


def main(argv: list[str]) -> int:
    """Entry point: ``argv[0]`` is the progress file."""
    leave_stop_signals_to_the_broker()
    with open(argv[0], "r+b") as handle:
        progress = mmap.mmap(handle.fileno(), PROGRESS.size)
        serve(sys.stdin.buffer, sys.stdout.buffer, progress)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

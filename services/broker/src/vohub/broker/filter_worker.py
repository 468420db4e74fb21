"""The filter sandbox process: evaluates subscribers' XPath filters, so a runaway one can be killed.

Run by :mod:`vohub.broker.filters` as ``python -m vohub.broker.filter_worker PROGRESS_FILE``.
It reads pickled requests from stdin, each framed by a 4-byte big-endian length, and writes
results on stdout the same way. Packets are numbered by the broker (``seq``), in acceptance
order:

* ``("set", sub_id, expressions, first_seq)``: (re)compile a subscriber's filters (Comet
  semantics, :mod:`vohub.vtp.filters`); a new subscriber is given the packets from
  ``first_seq`` on;
* ``("drop", sub_id)``: forget a subscriber and the packets it had yet to be given;
* ``("eval", first_seq, [packet bytes, ...])``: packets ``first_seq``, ``first_seq + 1``, …,
  queued for every subscriber.

A result frame holds a list of ``(sub_id, last_seq, [matched seq, ...])``: that subscriber's
filters were evaluated on each of its packets up to ``last_seq`` and passed the ones listed.

Theory of operation. Each subscriber has its own queue of packets, and the worker gives the
next turn to the subscriber with work that has so far used the least time (fair queueing; one
that had no work starts level with the others). A turn evaluates that subscriber's queued
packets in order until the queue is empty or the turn has run for :data:`QUANTUM`. So a cheap
filter waits for at most one evaluation of a slow one, never for the slow one's backlog, and
each subscriber's results come in acceptance order. Results are written when the worker runs
out of work, before a turn whose filter was slow last time (or is new), and when they have
waited a :data:`QUANTUM`: one write per batch of packets when every filter is cheap. Requests
are read between turns, so packets accepted meanwhile join the queues at once.

Before each filter evaluation, and before parsing each packet, the worker writes
``(seq, sub_id, started)`` into the memory-mapped progress file (``sub_id`` -1 while parsing,
``started`` from :func:`time.monotonic`, a clock every process shares), and ``(-1, -1, 0)``
between evaluations. The broker kills a worker whose record shows one evaluation running past
its budget, and knows from it whose filter, and which packet, were at fault.
"""

from __future__ import annotations

import mmap
import os
import pickle
import select
import signal
import struct
import sys
import time
from collections import deque
from collections.abc import Iterator
from typing import Any, BinaryIO

from lxml import etree

from vohub.vtp.errors import MalformedMessage
from vohub.vtp.filters import FilterSet, compile_filters_lenient
from vohub.vtp.messages import parse_xml

_LEN = struct.Struct(">I")
#: Layout of the progress file: packet seq, subscriber id (-1: parsing), start (0.0: between).
PROGRESS = struct.Struct(">qqd")
#: The progress record between evaluations.
BETWEEN = (-1, -1, 0.0)
#: Seconds a turn may go on evaluating one subscriber's queue before others get a turn.
QUANTUM = 0.01


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


class Inbox:
    """Framed requests from a pipe, read blocking (when idle) or only if already there."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = bytearray()
        self.closed = False

    def fill(self, *, block: bool) -> None:
        """Read what the pipe holds; wait for something first if ``block``."""
        while block or select.select([self.fd], [], [], 0)[0]:
            chunk = os.read(self.fd, 1 << 20)
            if not chunk:
                self.closed = True
                return
            self.buffer += chunk
            block = False

    def messages(self) -> Iterator[Any]:
        """The complete requests read so far, in order."""
        while len(self.buffer) >= _LEN.size:
            end = _LEN.size + _LEN.unpack_from(self.buffer)[0]
            if len(self.buffer) < end:
                return
            message = pickle.loads(self.buffer[_LEN.size : end])
            del self.buffer[:end]
            yield message


class Scheduler:
    """Subscribers' filters and queues, and the fair turns between them."""

    def __init__(self, progress: mmap.mmap | None) -> None:
        self.progress = progress
        self.filters: dict[int, FilterSet] = {}
        self.first: dict[int, int] = {}  # a subscriber's first packet
        self.queues: dict[int, deque[int]] = {}
        self.used: dict[int, float] = {}  # seconds of turns, for fairness
        self.cost: dict[int, float] = {}  # seconds per packet in its last turn
        self.clock = 0.0  # the time used by the last subscriber given a turn
        self.roots: dict[int, etree._Element | None] = {}
        self.holders: dict[int, int] = {}  # queues still holding each packet
        self.results: list[tuple[int, int, list[int]]] = []
        self.waiting_since = 0.0

    def handle(self, message: Any) -> None:
        """Apply one request."""
        if message[0] == "set":
            _, sub_id, expressions, first = message
            self.filters[sub_id] = compile_filters_lenient(expressions)[0]
            if sub_id not in self.queues:
                self.first[sub_id], self.queues[sub_id] = first, deque()
                self.used[sub_id] = self.clock
        elif message[0] == "drop":
            for seq in self.queues.pop(message[1], ()):
                self._release(seq)
            for table in (self.filters, self.first, self.used, self.cost):
                table.pop(message[1], None)
        elif message[0] == "eval":
            for seq, packet in enumerate(message[2], start=message[1]):
                self._enqueue(seq, packet)

    def _enqueue(self, seq: int, packet: bytes) -> None:
        takers = [sub_id for sub_id, first in self.first.items() if first <= seq]
        if not takers:
            return
        self._mark(seq, -1)
        try:
            self.roots[seq] = parse_xml(packet)
        except MalformedMessage:
            self.roots[seq] = None  # matches nobody, but still moves every subscriber on
        self._mark(*BETWEEN)
        self.holders[seq] = len(takers)
        for sub_id in takers:
            queue = self.queues[sub_id]
            if not queue:  # back from idle: level with the others, no credit for the pause
                self.used[sub_id] = max(self.used[sub_id], self.clock)
            queue.append(seq)

    def next_turn(self) -> int | None:
        """The subscriber with queued packets that has used the least time, if any."""
        waiting = [sub_id for sub_id, queue in self.queues.items() if queue]
        return min(waiting, key=self.used.__getitem__) if waiting else None

    def flush_due(self, sub_id: int) -> bool:
        """Whether results should go out before ``sub_id``'s turn, which may be long."""
        if not self.results:
            return False
        slow = self.cost.get(sub_id, QUANTUM) >= QUANTUM / 10
        return slow or time.monotonic() - self.waiting_since >= QUANTUM

    def turn(self, sub_id: int) -> None:
        """Evaluate ``sub_id``'s queued packets for up to a :data:`QUANTUM`; note the result."""
        self.clock = self.used[sub_id]
        queue, filter_set = self.queues[sub_id], self.filters[sub_id]
        matched: list[int] = []
        start = now = time.monotonic()
        count = 0
        while queue and (count == 0 or now - start < QUANTUM):
            seq = queue[0]
            self._mark(seq, sub_id, now)
            root = self.roots[seq]
            if root is not None and filter_set.matches(root):
                matched.append(seq)
            queue.popleft()
            self._release(seq)
            count += 1
            now = time.monotonic()
        self._mark(*BETWEEN)
        self.used[sub_id] += now - start
        self.cost[sub_id] = (now - start) / count
        if not self.results:
            self.waiting_since = now
        self.results.append((sub_id, seq, matched))

    def _release(self, seq: int) -> None:
        self.holders[seq] -= 1
        if not self.holders[seq]:
            del self.holders[seq], self.roots[seq]

    def _mark(self, seq: int, sub_id: int, started: float | None = None) -> None:
        if self.progress is not None:
            now = time.monotonic() if started is None else started
            PROGRESS.pack_into(self.progress, 0, seq, sub_id, now)


def leave_stop_signals_to_the_broker() -> None:
    """Ignore SIGINT and SIGTERM: the broker ends its workers itself, by closing their stdin.

    A Ctrl-C reaches the terminal's whole process group, and a service manager may signal every
    process of the service; a worker that died of it would print a traceback and make the broker
    report it dead while the broker is stopping it anyway.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def serve(inbox: Inbox, out: BinaryIO, progress: mmap.mmap | None) -> None:
    """Evaluate filters and write results until stdin closes."""
    work = Scheduler(progress)
    while True:
        sub_id = work.next_turn()
        if sub_id is None and work.results:
            _send_results(work, out)
        inbox.fill(block=sub_id is None)
        if inbox.closed:
            return
        for message in inbox.messages():
            work.handle(message)
        sub_id = work.next_turn()
        if sub_id is None:
            continue
        if work.flush_due(sub_id):
            _send_results(work, out)
        work.turn(sub_id)


def _send_results(work: Scheduler, out: BinaryIO) -> None:
    out.write(frame(work.results))
    out.flush()
    work.results = []


def main(argv: list[str]) -> int:
    """Entry point: ``argv[0]`` is the progress file."""
    leave_stop_signals_to_the_broker()
    with open(argv[0], "r+b") as handle:
        progress = mmap.mmap(handle.fileno(), PROGRESS.size)
        PROGRESS.pack_into(progress, 0, *BETWEEN)
        serve(Inbox(sys.stdin.fileno()), sys.stdout.buffer, progress)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

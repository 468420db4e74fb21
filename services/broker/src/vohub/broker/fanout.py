"""Hand each accepted packet to every subscriber whose filters pass, never waiting on one.

Subscribers (VTP connections, gRPC streams) register as :class:`Sink`. A sink with no XPath
filter gets each packet at once, in the caller's turn of the event loop. Packets for sinks
with XPath filters go to the :class:`~.filters.FilterSandbox` as they come; each sink gets
those its filters pass as soon as its own verdicts are in, in acceptance order, whatever
other sinks' filters cost. A sink's
``deliver`` only queues (bounded) and drops the sink itself on overflow, so one slow or
stuck subscriber never delays the others.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from vohub.broker.filters import Cause, FilterSandbox
from vohub.broker.metrics import Metrics
from vohub.vtp.framing import encode_frame
from vohub.vtp.messages import Event
from vohub.vtp.roles import acked_by_every_subscriber


@dataclass(slots=True)
class Accepted:
    """A packet the broker has accepted and made durable."""

    event: Event
    stream: str
    received: float
    path: str
    _frame: bytes | None = field(default=None, repr=False, compare=False)

    @property
    def ivorn(self) -> str:
        """The packet's IVORN."""
        return self.event.ivorn

    @property
    def acked(self) -> bool:
        """Whether every VTP subscriber acks the packet (so one that does not is counted)."""
        return acked_by_every_subscriber(self.event)

    def vtp_frame(self) -> bytes:
        """The packet framed for VTP, built once and shared by every VTP subscriber."""
        if self._frame is None:
            self._frame = encode_frame(self.event.raw, max_size=len(self.event.raw))
        return self._frame


class Batch:
    """Packets accepted together, in order, as every sink gets them; VTP frames built once."""

    __slots__ = ("accepted", "acked", "events", "frames", "largest")

    def __init__(self, accepted: Sequence[Accepted]) -> None:
        self.accepted = list(accepted)
        self.events = [a.event for a in self.accepted]
        self.frames = [a.vtp_frame() for a in self.accepted]
        self.largest = max(map(len, self.frames), default=0)
        self.acked = sum(a.acked for a in self.accepted)


class Sink(Protocol):
    """A subscriber as the fan-out sees it."""

    sub_id: int
    kind: str

    def wants(self, accepted: Accepted) -> bool:
        """A cheap pre-filter run before any XPath (gRPC streams and roles)."""

    def deliver(self, accepted: Accepted) -> None:
        """Queue the packet for sending; must not block."""

    def deliver_many(self, batch: Batch) -> None:
        """Queue the packets it wants of ``batch``, in order; must not block."""

    def drop(self, reason: str) -> None:
        """Disconnect the subscriber, saying why."""


_ids = itertools.count(1)


def new_sub_id() -> int:
    """A process-wide unique subscriber id.

    >>> new_sub_id() < new_sub_id()
    True
    """
    return next(_ids)


class Fanout:
    """The registry of sinks and the delivery loop for filtered ones (run :meth:`run`)."""

    def __init__(self, sandbox: FilterSandbox[Accepted], metrics: Metrics) -> None:
        self.sandbox = sandbox
        self.metrics = metrics
        self.sinks: dict[int, Sink] = {}
        self._filtered: set[int] = set()
        sandbox.on_dropped = self._filter_dropped
        sandbox.on_matched = self._deliver_matched

    def add(self, sink: Sink, expressions: Sequence[str] = ()) -> None:
        """Register ``sink`` with its (already compiled-checked) XPath filters."""
        self.sinks[sink.sub_id] = sink
        self.metrics.subscribers.labels(kind=sink.kind).inc()
        self.set_filters(sink, expressions)

    def set_filters(self, sink: Sink, expressions: Sequence[str]) -> None:
        """Replace the sink's XPath filters (an empty list passes everything)."""
        if expressions:
            self._filtered.add(sink.sub_id)
            self.sandbox.set(sink.sub_id, expressions)
        else:
            self._filtered.discard(sink.sub_id)
            self.sandbox.drop(sink.sub_id)

    def remove(self, sink: Sink) -> None:
        """Forget ``sink`` (idempotent)."""
        if self.sinks.pop(sink.sub_id, None) is not None:
            self.metrics.subscribers.labels(kind=sink.kind).dec()
            self._filtered.discard(sink.sub_id)
            self.sandbox.drop(sink.sub_id)

    def __call__(self, batch: Sequence[Accepted]) -> None:
        """Publish packets accepted together (the broker's relay handler)."""
        shared = Batch(batch)
        for sub_id, sink in list(self.sinks.items()):
            if sub_id not in self._filtered:
                sink.deliver_many(shared)
        if self._filtered:
            self.sandbox.submit([(a.event.raw, a) for a in shared.accepted])

    async def run(self) -> None:
        """Deliver filtered sinks their packets as the sandbox's verdicts come, forever."""
        await self.sandbox.run()

    async def drain(self) -> None:
        """Wait until every packet handed over so far has gone through the filters (the broker
        is stopping: a filtered subscriber must be given what was acknowledged)."""
        await self.sandbox.settled()

    def _deliver_matched(self, sub_id: int, matched: list[Accepted]) -> None:
        sink = self.sinks.get(sub_id)
        if sink is None or sub_id not in self._filtered:
            return
        for accepted in matched:
            if sink.wants(accepted):
                sink.deliver(accepted)

    def _filter_dropped(self, sub_id: int, cause: Cause, reason: str) -> None:
        """The sandbox took ``sub_id``'s filters away (see :class:`FilterSandbox`): drop it."""
        if cause == "timeout":
            self.metrics.filter_timeouts.inc()
        else:
            self.metrics.filter_crashes.inc()
        self._filtered.discard(sub_id)
        sink = self.sinks.get(sub_id)
        if sink is not None:
            sink.drop(reason)

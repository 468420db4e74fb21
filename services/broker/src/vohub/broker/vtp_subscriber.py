"""The broadcast-port edge: one VTP subscriber connection, its bounded send queue and heartbeat.

The protocol logic is :class:`vohub.vtp.BroadcastConnection`; this edge moves bytes and adds
two rules of vohub's own. The send queue is the socket's write buffer, capped at
``queue_bytes``: past it the subscriber is dropped, never waited on. And instead of Comet's
"10 unacked events at a tick" rule, which drops a healthy subscriber whenever more than ten
events are legitimately in flight, a subscriber is dropped when its oldest unacked event is
older than ``ack_timeout`` at a tick, or once ``max_missed`` events in all were still unacked
when it answered a later iamalive (peers answer in order, so those acks will never come).
The first catches acks that fall behind, the second acks that are skipped: an event counted
as missed leaves the age rule's sight, so an odd skipped ack costs nothing until there are
``max_missed`` of them.
A packet that some subscribers never ack is relayed but not counted: one without a role
attribute (Comet's subscriber calls it incomprehensible) and one whose root is not in the
VOEvent 2.0 or 1.1 namespace (pygcn skips VOEvent 2.1 without a word). Comet's broker relays
neither, as it refuses both.
Acks are counted, not matched to IVORNs, as in Comet. XPath filters go to the fan-out's
sandbox, not the connection. An unreadable frame or a VOEvent from a subscriber is ignored,
as Comet ignores it, and logged (the first of each connection only).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from dataclasses import dataclass
from typing import cast

from vohub.broker.config import Network, allowed
from vohub.broker.fanout import Accepted, Batch, Fanout, new_sub_id
from vohub.broker.metrics import Metrics
from vohub.common.addresses import Address
from vohub.common.logs import get_logger
from vohub.vtp import (
    Authenticate,
    BroadcastConnection,
    Event,
    FilterSet,
    IAmAlive,
    Offer,
    VTPError,
)
from vohub.vtp.messages import Unreadable

log = get_logger("vohub.broker.subscriber")


@dataclass(frozen=True)
class SubscriberPolicy:
    """Settings shared by every subscriber connection."""

    local_ivo: str
    whitelist: list[Network]
    queue_bytes: int
    ack_timeout: float
    max_missed: int
    max_send_size: int
    max_frame_size: int


class VtpSubscriber(asyncio.Protocol):
    """One connection on the broadcast port, registered with the fan-out as a sink."""

    kind = "vtp"

    def __init__(self, policy: SubscriberPolicy, fanout: Fanout, metrics: Metrics) -> None:
        self.policy, self.fanout, self.metrics = policy, fanout, metrics
        self.sub_id = new_sub_id()
        self.peer = "?"
        self.transport: asyncio.Transport | None = None
        self.conn: BroadcastConnection | None = None
        self._sent: deque[float] = deque()
        self._ping_at = float("-inf")
        self._flush_due = False
        self._missed = 0
        self._queued = 0  # packets offered since the last write (counted there, in one go)
        self._acks_seen = 0
        self._odd_logged = False  # an unreadable or unexpected message was logged
        self._delivered = metrics.delivered.labels(kind=self.kind)
        self._acks = metrics.replies.labels(role="ack")
        self._loop = asyncio.get_running_loop()
        self.gone = asyncio.Event()  # set once the connection is closed

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        host, port = transport.get_extra_info("peername")[:2]
        self.peer, self.transport = str(Address(host, port)), transport
        if not allowed(host, self.policy.whitelist):
            log.warning("subscriber.refused", peer=self.peer, reason="not in subscriber whitelist")
            transport.abort()
            return
        self.conn = BroadcastConnection(
            local_ivo=self.policy.local_ivo,
            max_outstanding_acks=None,  # replaced by the rules in the module docstring
            report_acks=False,  # counted, not returned: Comet matches nothing in them
            now=time.time(),
            peer=self.peer,
            max_frame_size=self.policy.max_frame_size,
            max_send_size=self.policy.max_send_size,
        )
        self.fanout.add(self)
        log.info("subscriber.connected", peer=self.peer, sub_id=self.sub_id)
        self._flush()

    def data_received(self, data: bytes) -> None:
        if self.conn is None:
            return
        try:
            messages = self.conn.receive_data(data)
        except VTPError as exc:
            log.warning("subscriber.protocol_error", peer=self.peer, error=str(exc))
            messages = []
        acks = self.conn.acks_received - self._acks_seen
        if acks:  # the common case by far: N acks per event relayed
            self._acks_seen += acks
            self._acks.inc(acks)
            sent = self._sent
            for _ in range(min(acks, len(sent))):
                sent.popleft()
        for message in messages:
            self._note(message)
        if self.conn.closed:  # a nak or a protocol error: drop it now
            self._flush()

    def _note(self, message: object) -> None:
        assert self.conn is not None
        if isinstance(message, IAmAlive):
            self.metrics.replies.labels(role="iamalive").inc()
            while self._sent and self._sent[0] < self._ping_at:  # sent before the ping
                self._sent.popleft()
                self._missed += 1
            if self._missed >= self.policy.max_missed:
                self.conn.drop(f"peer is not acknowledging events ({self._missed} never acked)")
        elif isinstance(message, Authenticate):
            for error in self.conn.filter_errors:
                log.warning("subscriber.filter_invalid", peer=self.peer, error=str(error))
            expressions = self.conn.filters.expressions
            self.conn.filters = FilterSet()  # evaluated in the sandbox, not on the event loop
            self.fanout.set_filters(self, expressions)
            log.info("subscriber.filters", peer=self.peer, filters=list(expressions))
        elif isinstance(message, Unreadable | Event) and not self._odd_logged:
            # ignored, as Comet does, but not silently (once per connection: no log flood)
            self._odd_logged = True
            if isinstance(message, Unreadable):
                log.warning("subscriber.unreadable", peer=self.peer, error=message.error.detail)
            else:
                log.warning("subscriber.unexpected", peer=self.peer, ivorn=message.ivorn,
                            detail="a subscriber sent a VOEvent; ignored")  # fmt: skip

    def wants(self, accepted: Accepted) -> bool:
        return True

    def deliver(self, accepted: Accepted) -> None:
        if self.conn is None:
            return
        offer = self.conn.offer(accepted.event, accepted.vtp_frame())
        if offer is Offer.SENT:
            if accepted.acked:
                self._sent.append(self._loop.time())
            self._queued += 1
            if not self._flush_due:  # packets accepted together go out in one write
                self._flush_due = True
                self._loop.call_soon(self._flush)
        elif offer is Offer.TOO_LARGE:
            self.metrics.oversize_skipped.inc()
            log.warning(
                "subscriber.oversize_skipped",
                peer=self.peer,
                ivorn=accepted.ivorn,
                bytes=len(accepted.event.raw),
                limit=self.policy.max_send_size,
            )

    def deliver_many(self, batch: Batch) -> None:
        conn = self.conn
        if conn is None or conn.closed:
            return
        if batch.largest > self.policy.max_send_size + 4:  # someone is skipped, and logged
            for accepted in batch.accepted:
                self.deliver(accepted)
            return
        sent = conn.offer_many(batch.events, batch.frames)  # all or none: no filter, none too large
        if sent:
            self._sent.extend(itertools.repeat(self._loop.time(), batch.acked))
        self._queued += sent
        self._flush()  # one write for the batch

    def tick(self, now: float) -> None:
        """The broker-wide iamalive tick (see the module docstring for the drop rules)."""
        if self.conn is None or self.conn.closed:
            return
        if self._sent and self._loop.time() - self._sent[0] > self.policy.ack_timeout:
            self.conn.drop(
                f"peer is not acknowledging events (none for {self.policy.ack_timeout:g} s)"
            )
        else:
            self.conn.tick(now)
            self._ping_at = self._loop.time()
        self._flush()

    def drop(self, reason: str) -> None:
        if self.conn is not None:
            self.conn.drop(reason)
            self._flush()

    def _flush(self) -> None:
        assert self.conn is not None
        assert self.transport is not None
        self._flush_due = False
        if self._queued:
            self._delivered.inc(self._queued)
            self._queued = 0
        chunks = self.conn.chunks_to_send()  # the batch's frames, shared, written by writev
        if chunks and not self.transport.is_closing():
            self.transport.writelines(chunks)
        if (
            not self.conn.closed
            and self.transport.get_write_buffer_size() > self.policy.queue_bytes
        ):
            self.conn.drop(f"send queue over {self.policy.queue_bytes} bytes")
        if self.conn.closed and not self.transport.is_closing():
            log.warning("subscriber.dropped", peer=self.peer, reason=self.conn.drop_reason)
            self.metrics.dropped.labels(reason=_label(self.conn.drop_reason or "")).inc()
            self.transport.abort()

    def finish(self) -> None:
        """Write what is queued, then close once it has gone out (the broker is stopping)."""
        if self.transport is None or self.transport.is_closing():
            return
        if self.conn is not None:
            self._flush()
        self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.gone.set()
        if self.conn is not None:
            self.fanout.remove(self)
            log.info("subscriber.disconnected", peer=self.peer, sub_id=self.sub_id)


def _label(reason: str) -> str:
    for label in ("dead", "acknowledging", "queue", "nak", "filter", "protocol"):
        if label in reason:
            return label
    return "other"

"""Broker-side VTP state machine for the broadcast port: one subscriber, its filters, liveness."""

from __future__ import annotations

import enum
from collections.abc import Sequence

from vohub.vtp._endpoint import Endpoint
from vohub.vtp.canonical import ack_head, ack_origin
from vohub.vtp.errors import InvalidFilter, MalformedMessage, UnknownMessage, VTPError
from vohub.vtp.filters import FilterSet, compile_filters_lenient
from vohub.vtp.framing import COMET_MAX_FRAME_SIZE, DEFAULT_MAX_FRAME_SIZE, PREFIX_SIZE
from vohub.vtp.messages import (
    Ack,
    Authenticate,
    Event,
    IAmAlive,
    Message,
    Nak,
    Unreadable,
    decode,
)

#: Comet's broker-wide iamalive period; keep under 120 s (Comet) and 150 s (pygcn).
IAMALIVE_INTERVAL = 60.0
#: Unacked events at an iamalive tick that get a subscriber dropped (Comet).
MAX_OUTSTANDING_ACKS = 10
#: Unanswered iamalives at a tick that get a subscriber dropped (Comet).
MAX_MISSED_IAMALIVES = 1

# Theory of operation: the broker's end of a subscriber connection
# ----------------------------------------------------------------
#
# States: OPEN until dropped (CLOSED, with drop_reason). At connect the broker queues its
# `authenticate` at once, without waiting for the subscriber (Comet). Then:
#
#   subscriber authenticate (any time, any number) -> its filters REPLACE ours; invalid ones are
#       dropped and reported in `filter_errors` (Comet logs them; if none is left, everything
#       passes). The broker never answers an authenticate.
#   iamalive reply -> missed_iamalives -= 1      ack -> outstanding_acks -= 1
#       (counted by role only; acks are NOT matched to IVORNs, exactly as Comet. So an ack is
#       recognised by its root start tag alone, without an XML parse: with N subscribers acks
#       outnumber every other frame N to 1, and parsing each was a broker's largest cost)
#   nak            -> drop at once: VTP Note §6.4, the subscriber leaves the distribution list
#   anything else  -> reported, ignored.
#
#   tick(now), called broker-wide every IAMALIVE_INTERVAL, does the first that applies:
#       1. missed_iamalives >= 1        -> drop "peer appears to be dead"
#       2. outstanding_acks >= 10       -> drop "peer is not acknowledging events"
#          (10 is Comet's; max_outstanding_acks=None turns this rule off)
#       3. queue iamalive, missed_iamalives += 1
#
#   offer(event): if the filters pass, queue the event's ORIGINAL bytes (downstream dedup
#       hashes them) and outstanding_acks += 1. Events over max_send_size (Comet: 99 999 bytes)
#       are never sent: a Comet subscriber would hang up and lose the event.
#
# Invariants: counters never go below zero (unlike Comet, an unsolicited iamalive or ack earns
# no credit); after CLOSED nothing more is queued; the edge closes once `closed` is true.


class Offer(enum.Enum):
    """What :meth:`BroadcastConnection.offer` did with an event."""

    SENT = "sent"
    FILTERED = "filtered"
    TOO_LARGE = "too-large"
    CLOSED = "closed"


class BroadcastConnection(Endpoint):
    """The broker's end of one subscriber connection (the broadcast port).

    Parameters
    ----------
    local_ivo
        The broker's IVOID, sent as ``Origin`` of its authenticate and iamalive messages.
    now
        Connection time (seconds since the epoch), stamped on the initial ``authenticate``.
    peer
        ``host:port`` of the subscriber, named in errors.
    max_frame_size
        Largest frame accepted from the subscriber.
    max_send_size
        Largest event relayed (default: Comet's 99 999 bytes).
    max_outstanding_acks
        Unacked events at a tick that drop the subscriber (Comet: 10); ``None`` disables the
        rule, for an edge that applies its own ack policy.
    report_acks
        Return each ack from :meth:`receive_data` as an :class:`Ack`; ``False`` only counts
        them in :attr:`acks_received` (all a broker does with them), which is cheaper.

    Examples
    --------
    >>> from vohub.vtp.framing import encode_frame
    >>> from vohub.vtp.messages import decode, encode, parse_event
    >>> sub = BroadcastConnection(local_ivo="ivo://hub/b", now=0.0)
    >>> decode(sub.data_to_send()[4:])   # sent at connect # doctest: +ELLIPSIS
    Authenticate(origin='ivo://hub/b', response=None, filters=(), timestamp=...)
    >>> reply = Authenticate("ivo://hub/b", "ivo://me/s", ("/*[@role!='test']",))
    >>> sub.receive_data(encode_frame(encode(reply, 1.0)))[0].filters
    ("/*[@role!='test']",)
    >>> sub.offer(parse_event(b'<VOEvent role="test" ivorn="ivo://a.b/c#1"/>'))
    <Offer.FILTERED: 'filtered'>
    >>> sub.tick(now=60.0); sub.tick(now=120.0)
    >>> sub.closed, sub.drop_reason
    (True, 'peer appears to be dead')
    """

    def __init__(
        self,
        *,
        local_ivo: str,
        now: float,
        peer: str | None = None,
        max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
        max_send_size: int = COMET_MAX_FRAME_SIZE,
        max_outstanding_acks: int | None = MAX_OUTSTANDING_ACKS,
        report_acks: bool = True,
    ) -> None:
        super().__init__(peer=peer, max_frame_size=max_frame_size, max_send_size=max_send_size)
        self.local_ivo = local_ivo
        self.max_outstanding_acks = max_outstanding_acks
        self.report_acks = report_acks
        self.acks_received = 0
        self.filters = FilterSet()
        self.filter_errors: tuple[InvalidFilter, ...] = ()
        self.outstanding_acks = 0
        self.missed_iamalives = 0
        self.drop_reason: str | None = None
        self._ack_head: bytes | None = None  # the head of the peer's last ack (see _is_ack)
        self._queue(Authenticate(local_ivo), now)

    @property
    def closed(self) -> bool:
        """Whether the subscriber was dropped; the edge closes after :meth:`data_to_send`.

        >>> sub = BroadcastConnection(local_ivo="ivo://hub/b", now=0.0)
        >>> sub.closed
        False
        >>> sub.drop("shutting down"); sub.closed
        True
        """
        return self.drop_reason is not None

    def receive_data(self, data: bytes) -> list[Message | Unreadable]:
        """Feed bytes from the subscriber; update counters and filters; return what arrived.

        Raises
        ------
        FrameTooLarge
            On an oversize length prefix; the subscriber is dropped first.

        Examples
        --------
        >>> from vohub.vtp.framing import encode_frame
        >>> from vohub.vtp.messages import encode
        >>> sub = BroadcastConnection(local_ivo="ivo://hub/b", now=0.0)
        >>> got = sub.receive_data(encode_frame(encode(Nak("ivo://a/b#1", None, "no"), 0.0)))
        >>> sub.drop_reason
        'nak received for ivo://a/b#1: no'
        """
        self._decoder.feed(data)
        try:
            payloads = self._decoder.frames()
        except VTPError as exc:
            self.drop(f"protocol error: {exc}")
            raise
        received: list[Message | Unreadable] = []
        for payload in payloads:  # a hot loop: N acks per event relayed
            if self._is_ack(payload):
                self.acks_received += 1
                if self.report_acks:
                    received.append(Ack(ack_origin(payload) or ""))
                if self.outstanding_acks and self.drop_reason is None:
                    self.outstanding_acks -= 1
                continue
            message = self._decode(payload)
            received.append(message)
            if not self.closed:
                self._count(message)
        return received

    def receive_eof(self) -> None:
        """Note that the subscriber hung up: it is dropped.

        Raises
        ------
        TruncatedFrame
            If it hung up in the middle of a frame.

        Examples
        --------
        >>> sub = BroadcastConnection(local_ivo="ivo://hub/b", now=0.0)
        >>> sub.receive_eof()
        >>> sub.drop_reason
        'subscriber closed the connection'
        """
        self.drop("subscriber closed the connection")
        self._decoder.close()

    def tick(self, now: float) -> None:
        """The broker-wide iamalive tick: drop a dead or non-acking subscriber, else ping it.

        Examples
        --------
        >>> sub = BroadcastConnection(local_ivo="ivo://hub/b", now=0.0)
        >>> _ = sub.data_to_send()
        >>> sub.tick(now=60.0)
        >>> from vohub.vtp.messages import decode
        >>> sub.missed_iamalives, decode(sub.data_to_send()[4:]).origin
        (1, 'ivo://hub/b')
        """
        if self.closed:
            return
        if self.missed_iamalives >= MAX_MISSED_IAMALIVES:
            self.drop("peer appears to be dead")
        elif (
            self.max_outstanding_acks is not None
            and self.outstanding_acks >= self.max_outstanding_acks
        ):
            self.drop("peer is not acknowledging events")
        else:
            self._queue(IAmAlive(self.local_ivo), now)
            self.missed_iamalives += 1

    def offer(self, event: Event, frame: bytes | None = None) -> Offer:
        """Queue ``event``'s original bytes if the subscriber's filters pass.

        ``frame``, if given, is ``encode_frame(event.raw)`` built once by the caller and shared
        by every subscriber, which saves a copy of the packet per subscriber.

        Examples
        --------
        >>> from vohub.vtp.messages import parse_event
        >>> sub = BroadcastConnection(local_ivo="ivo://hub/b", now=0.0)
        >>> sub.offer(parse_event(b'<VOEvent role="test" ivorn="ivo://a.b/c#1"/>'))
        <Offer.SENT: 'sent'>
        >>> sub.outstanding_acks
        1
        """
        if self.closed:
            return Offer.CLOSED
        if len(event.raw) > self.max_send_size:
            return Offer.TOO_LARGE
        if self.filters.filters and not self.filters.matches(event.element):
            return Offer.FILTERED
        if frame is not None and len(frame) == len(event.raw) + PREFIX_SIZE:
            self._queue_frame(frame)
        else:
            self._queue(event, 0.0)
        self.outstanding_acks += 1
        return Offer.SENT

    def offer_many(self, events: Sequence[Event], frames: Sequence[bytes]) -> int:
        """Offer several events at once; return how many were queued (the rest were not).

        ``frames[i]`` is ``encode_frame(events[i].raw)``, built once for every subscriber.
        Events are skipped as :meth:`offer` would skip them (too large, filtered); ask
        :meth:`offer` about one to learn why.

        Examples
        --------
        >>> from vohub.vtp.framing import encode_frame
        >>> from vohub.vtp.messages import parse_event
        >>> events = [parse_event(b'<VOEvent role="test" ivorn="ivo://a.b/c#%d"/>' % i)
        ...           for i in (1, 2)]
        >>> sub = BroadcastConnection(local_ivo="ivo://hub/b", now=0.0)
        >>> sub.offer_many(events, [encode_frame(e.raw) for e in events]), sub.outstanding_acks
        (2, 2)
        """
        if self.closed:
            return 0
        if (
            self.filters.filters
            or max(map(len, frames), default=0) > self.max_send_size + PREFIX_SIZE
        ):
            return sum(self.offer(e, f) is Offer.SENT for e, f in zip(events, frames, strict=True))
        self._outbox += frames
        self.outstanding_acks += len(frames)
        return len(frames)

    def drop(self, reason: str) -> None:
        """Drop the subscriber (e.g. its send queue is full); the first reason is kept.

        Examples
        --------
        >>> sub = BroadcastConnection(local_ivo="ivo://hub/b", now=0.0)
        >>> sub.drop("send queue full"); sub.drop("later")
        >>> sub.drop_reason
        'send queue full'
        """
        if self.drop_reason is None:
            self.drop_reason = reason

    def _is_ack(self, payload: bytes) -> bool:
        """Whether ``payload`` is an ack: a peer writes its acks alike, so a prefix compare
        with the last one's head (:func:`~vohub.vtp.canonical.ack_head`) mostly settles it."""
        head = self._ack_head
        if head is not None and payload.startswith(head):
            return True
        head = ack_head(payload)
        if head is None:
            return False
        self._ack_head = head
        return True

    def _decode(self, payload: bytes) -> Message | Unreadable:
        try:
            return decode(payload)
        except (MalformedMessage, UnknownMessage) as exc:
            return Unreadable(payload, type(exc)(exc.detail, peer=self.peer, ivorn=exc.ivorn))

    def _count(self, message: Message | Unreadable) -> None:
        if isinstance(message, IAmAlive):
            self.missed_iamalives = max(0, self.missed_iamalives - 1)
        elif isinstance(message, Ack):
            self.outstanding_acks = max(0, self.outstanding_acks - 1)
        elif isinstance(message, Nak):
            reason = message.reason or "no reason given"
            self.drop(f"nak received for {message.ivorn}: {reason}")
        elif isinstance(message, Authenticate):
            self.filters, self.filter_errors = compile_filters_lenient(
                message.filters, peer=self.peer
            )

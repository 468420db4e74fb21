"""Broker-side VTP state machines: one author submission; one subscriber on the broadcast port."""

from __future__ import annotations

import enum

from vohub.vtp._endpoint import Endpoint
from vohub.vtp.errors import IllegalTransition, InvalidFilter, UnknownMessage, VTPError
from vohub.vtp.filters import FilterSet, compile_filters_lenient
from vohub.vtp.framing import COMET_MAX_FRAME_SIZE, DEFAULT_MAX_FRAME_SIZE
from vohub.vtp.messages import (
    Ack,
    Authenticate,
    Event,
    IAmAlive,
    Message,
    Nak,
    Unreadable,
)

#: Comet closes an author connection this long after connect, data or not.
RECEIVE_TIMEOUT = 20.0
#: Comet's broker-wide iamalive period; keep under 120 s (Comet) and 150 s (pygcn).
IAMALIVE_INTERVAL = 60.0
#: Unacked events at an iamalive tick that get a subscriber dropped (Comet).
MAX_OUTSTANDING_ACKS = 10
#: Unanswered iamalives at a tick that get a subscriber dropped (Comet).
MAX_MISSED_IAMALIVES = 1

# Theory of operation: ReceiverConnection (the broker's end of an author connection)
# ---------------------------------------------------------------------------------
#
#     AWAITING_EVENT --VOEvent frame--> VALIDATING --accept()--> CLOSED (ack queued)
#           |                               +------reject()--> CLOSED (nak queued)
#           +--unreadable / Transport / oversize frame--> CLOSED, error raised, nothing queued
#
# Comet takes one event per connection: it answers ack or nak and then *the broker* closes.
# Unparsable data, non-VOEvent roles and oversize frames get no reply, just a close. The
# deadline is fixed at connect + 20 s and data does not extend it. Invariants: at most one
# reply is ever queued; frames after the first event are ignored (Comet relays a second
# pipelined event but never acks it; we do neither); the edge closes once `closed` is true and
# data_to_send() has been written.


class ReceiverState(enum.Enum):
    """States of :class:`ReceiverConnection`."""

    AWAITING_EVENT = "awaiting-event"
    VALIDATING = "validating"
    CLOSED = "closed"


class ReceiverConnection(Endpoint):
    """The broker's end of one author connection (the receive port).

    Parameters
    ----------
    local_ivo
        The broker's IVOID, sent as ``Response`` in the ack or nak.
    now
        Connection time (seconds since the epoch); the deadline is ``now + timeout``.
    timeout
        Seconds the author has to deliver its event (Comet: 20).
    peer
        ``host:port`` of the author, named in errors.
    max_frame_size
        Largest event accepted; at least Comet's 99 999 bytes.

    Examples
    --------
    >>> from vohub.vtp.framing import encode_frame
    >>> from vohub.vtp.messages import decode
    >>> conn = ReceiverConnection(local_ivo="ivo://hub/b", now=0.0)
    >>> conn.receive_data(encode_frame(b'<VOEvent role="test" ivorn="ivo://a.b/c#1"/>'))
    Event(raw=b'<VOEvent role="test" ivorn="ivo://a.b/c#1"/>', ivorn='ivo://a.b/c#1', role='test')
    >>> conn.reject("Previously seen by this broker", now=1.0)
    >>> decode(conn.data_to_send()[4:]).reason, conn.closed
    ('Event rejected: Previously seen by this broker', True)
    """

    def __init__(
        self,
        *,
        local_ivo: str,
        now: float,
        timeout: float = RECEIVE_TIMEOUT,
        peer: str | None = None,
        max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
    ) -> None:
        super().__init__(
            peer=peer, max_frame_size=max_frame_size, max_send_size=COMET_MAX_FRAME_SIZE
        )
        self.local_ivo = local_ivo
        self.deadline = now + timeout
        self.state = ReceiverState.AWAITING_EVENT
        self.event: Event | None = None

    @property
    def closed(self) -> bool:
        """Whether the edge should close the connection (after writing :meth:`data_to_send`)."""
        return self.state is ReceiverState.CLOSED

    def timed_out(self, now: float) -> bool:
        """Whether the connection's fixed deadline has passed without a verdict.

        Examples
        --------
        >>> conn = ReceiverConnection(local_ivo="ivo://hub/b", now=100.0)
        >>> conn.timed_out(119.9), conn.timed_out(120.0)
        (False, True)
        """
        return not self.closed and now >= self.deadline

    def receive_data(self, data: bytes) -> Event | None:
        """Feed bytes from the author; return its event once complete.

        Raises
        ------
        MalformedMessage, UnknownMessage
            If the first frame is not a VOEvent with a role and IVORN (a Transport message
            included); the connection is then closed with no reply, as Comet does.
        FrameTooLarge
            On an oversize length prefix; closed with no reply.
        """
        if self.state is not ReceiverState.AWAITING_EVENT:
            return None
        try:
            for message in self._frames(data):
                return self._first(message)
        except VTPError:
            self.state = ReceiverState.CLOSED
            raise
        return None

    def accept(self, now: float) -> None:
        """Queue the ``ack`` for the event and close (handlers run after this, as in Comet).

        Raises
        ------
        IllegalTransition
            Unless an event is awaiting its verdict.
        """
        event = self._verdict_for("accept")
        self._queue(Ack(event.ivorn, self.local_ivo), now)
        self.state = ReceiverState.CLOSED

    def reject(self, reason: str, now: float) -> None:
        """Queue a ``nak`` with Meta/Result ``Event rejected: <reason>`` (Comet's text) and close.

        Raises
        ------
        IllegalTransition
            Unless an event is awaiting its verdict.
        """
        event = self._verdict_for("reject")
        self._queue(Nak(event.ivorn, self.local_ivo, f"Event rejected: {reason}"), now)
        self.state = ReceiverState.CLOSED

    def receive_eof(self) -> None:
        """Note that the author hung up.

        Raises
        ------
        TruncatedFrame
            If it hung up in the middle of a frame.
        """
        if self.state is ReceiverState.AWAITING_EVENT:
            self.state = ReceiverState.CLOSED
            self._decoder.close()

    def _first(self, message: Message | Unreadable) -> Event:
        if isinstance(message, Unreadable):
            raise message.error
        if not isinstance(message, Event):
            raise UnknownMessage(
                f"expected a VOEvent on the receive port, got {type(message).__name__}",
                peer=self.peer,
            )
        self.event, self.state = message, ReceiverState.VALIDATING
        return message

    def _verdict_for(self, action: str) -> Event:
        if self.state is not ReceiverState.VALIDATING or self.event is None:
            raise IllegalTransition(
                f"cannot {action}: connection is {self.state.value}", peer=self.peer
            )
        return self.event


# Theory of operation: BroadcastConnection (the broker's end of a subscriber connection)
# ---------------------------------------------------------------------------------------
#
# States: OPEN until dropped (CLOSED, with drop_reason). At connect the broker queues its
# `authenticate` at once, without waiting for the subscriber (Comet). Then:
#
#   subscriber authenticate (any time, any number) -> its filters REPLACE ours; invalid ones are
#       dropped and reported in `filter_errors` (Comet logs them; if none is left, everything
#       passes). The broker never answers an authenticate.
#   iamalive reply -> missed_iamalives -= 1      ack -> outstanding_acks -= 1
#       (counted by role only; acks are NOT matched to IVORNs, exactly as Comet)
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
    ) -> None:
        super().__init__(peer=peer, max_frame_size=max_frame_size, max_send_size=max_send_size)
        self.local_ivo = local_ivo
        self.max_outstanding_acks = max_outstanding_acks
        self.filters = FilterSet()
        self.filter_errors: tuple[InvalidFilter, ...] = ()
        self.outstanding_acks = 0
        self.missed_iamalives = 0
        self.drop_reason: str | None = None
        self._queue(Authenticate(local_ivo), now)

    @property
    def closed(self) -> bool:
        """Whether the subscriber was dropped; the edge closes after :meth:`data_to_send`."""
        return self.drop_reason is not None

    def receive_data(self, data: bytes) -> list[Message | Unreadable]:
        """Feed bytes from the subscriber; update counters and filters; return what arrived.

        Raises
        ------
        FrameTooLarge
            On an oversize length prefix; the subscriber is dropped first.
        """
        received: list[Message | Unreadable] = []
        try:
            for message in self._frames(data):
                received.append(message)
                if not self.closed:
                    self._count(message)
        except VTPError as exc:
            self.drop(f"protocol error: {exc}")
            raise
        return received

    def receive_eof(self) -> None:
        """Note that the subscriber hung up: it is dropped.

        Raises
        ------
        TruncatedFrame
            If it hung up in the middle of a frame.
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

    def offer(self, event: Event) -> Offer:
        """Queue ``event``'s original bytes if the subscriber's filters pass.

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
        if not self.filters.matches(event.element):
            return Offer.FILTERED
        self._queue(event, 0.0)
        self.outstanding_acks += 1
        return Offer.SENT

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

    def _count(self, message: Message | Unreadable) -> None:
        if isinstance(message, IAmAlive):
            self.missed_iamalives = max(0, self.missed_iamalives - 1)
        elif isinstance(message, Ack):
            self.outstanding_acks = max(0, self.outstanding_acks - 1)
        elif isinstance(message, Nak):
            self.drop(f"nak received for {message.ivorn}: {message.reason}")
        elif isinstance(message, Authenticate):
            self.filters, self.filter_errors = compile_filters_lenient(
                message.filters, peer=self.peer
            )

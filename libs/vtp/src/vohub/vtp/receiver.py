"""Broker-side VTP state machine for the receive port: one author, its events, their verdicts."""

from __future__ import annotations

import enum
from collections import deque

from vohub.vtp import canonical
from vohub.vtp._endpoint import Endpoint
from vohub.vtp.errors import IllegalTransition, PipeliningDeclined, UnknownMessage, VTPError
from vohub.vtp.framing import COMET_MAX_FRAME_SIZE, DEFAULT_MAX_FRAME_SIZE
from vohub.vtp.messages import (
    Ack,
    Authenticate,
    Event,
    Message,
    Nak,
    Unreadable,
    decode,
)
from vohub.vtp.roles import VOEVENT_ROLES

#: Comet closes an author connection this long after connect, data or not.
RECEIVE_TIMEOUT = 20.0

# Theory of operation: the broker's end of an author connection
# -------------------------------------------------------------
#
# One-shot, as VTP and Comet do it:
#
#     AWAITING_EVENT --VOEvent frame--> VALIDATING --accept()/reject()--> CLOSED (ack/nak queued)
#           |
#           +--unreadable / Transport / oversize frame--> CLOSED, error raised, nothing queued
#
# Comet takes one event per connection: it answers ack or nak and then *the broker* closes.
# Unparsable data, Transport messages and oversize frames get no reply, just a close; any root
# with a role and an IVORN is an event (the broker naks one that is no VOEvent). The deadline is
# fixed at connect + 20 s and data does not extend it. Frames after the first event are ignored
# (Comet relays a second pipelined event but never acks it; we do neither).
#
# Pipelining, a vohub extension the author must ask for (and the broker allow):
#
#     AWAITING_EVENT --authenticate with Meta/Param vohub-pipelining=1--> PIPELINING
#                      (reply queued: authenticate, Origin copied, Response = our IVOID, the
#                      same Param, so the author knows it may go on)
#     PIPELINING: every VOEvent frame is returned, its IVORN joins the `awaiting` queue;
#                 accept() and reject() answer the OLDEST one, so replies go out in the order
#                 of the events.
#                 The deadline becomes an idle one: last frame + timeout, and only while no
#                 event awaits a verdict.
#     PIPELINING --EOF, unreadable or oversize frame, non-VOEvent--> DRAINING: nothing more is
#                 read; once every awaiting event has its verdict --> CLOSED.
#
# A Comet broker (or any broker without the extension) answers the authenticate by closing
# with no reply, as for any Transport message on this port, so an author falls back to one
# connection per event without having sent an event it cannot get a verdict for.
#
# Invariants: exactly one reply per event returned, in order; nothing is queued after CLOSED;
# the edge closes once `closed` is true and data_to_send() has been written.


class ReceiverState(enum.Enum):
    """States of :class:`ReceiverConnection`."""

    AWAITING_EVENT = "awaiting-event"
    VALIDATING = "validating"
    PIPELINING = "pipelining"
    DRAINING = "draining"
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
        Seconds the author has to deliver its event (Comet: 20); when pipelining, the longest
        silence allowed between events.
    peer
        ``host:port`` of the author, named in errors.
    max_frame_size
        Largest event accepted; at least Comet's 99 999 bytes.
    allow_pipelining
        Grant an author's request for several events on this connection (see the module).
    read_heads
        Read events by their root start tag only when plainly written
        (:func:`peek_event`: no tree), for a broker that parses and checks
        them elsewhere; it then reports one that proves unreadable with :meth:`unreadable`.

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
        allow_pipelining: bool = False,
        read_heads: bool = False,
    ) -> None:
        super().__init__(
            peer=peer, max_frame_size=max_frame_size, max_send_size=COMET_MAX_FRAME_SIZE
        )
        self.local_ivo = local_ivo
        self.timeout = timeout
        self.connected_at = now
        self.deadline = now + timeout
        self.allow_pipelining = allow_pipelining
        self.read_heads = read_heads
        self.state = ReceiverState.AWAITING_EVENT
        self.event: Event | None = None
        self.awaiting: deque[str] = deque()  # IVORNs (not events: their trees can go early)
        self.error: VTPError | None = None

    @property
    def closed(self) -> bool:
        """Whether the edge should close the connection (after writing :meth:`data_to_send`).

        >>> conn = ReceiverConnection(local_ivo="ivo://hub/b", now=0.0)
        >>> conn.closed
        False
        >>> conn.receive_eof(); conn.closed
        True
        """
        return self.state is ReceiverState.CLOSED

    @property
    def pipelining(self) -> bool:
        """Whether the author opted in to several events on this connection.

        >>> from vohub.vtp.framing import encode_frame
        >>> from vohub.vtp.messages import encode
        >>> conn = ReceiverConnection(local_ivo="ivo://hub/b", now=0.0, allow_pipelining=True)
        >>> hello = encode_frame(encode(Authenticate("ivo://me/a", pipelining=True), 0.0))
        >>> conn.pipelining, conn.receive_events(hello, now=0.0), conn.pipelining
        (False, [], True)
        """
        return self.state in (ReceiverState.PIPELINING, ReceiverState.DRAINING)

    def timed_out(self, now: float) -> bool:
        """Whether the deadline has passed with no event awaiting a verdict.

        Examples
        --------
        >>> conn = ReceiverConnection(local_ivo="ivo://hub/b", now=100.0)
        >>> conn.timed_out(119.9), conn.timed_out(120.0)
        (False, True)
        """
        return not self.closed and not self.awaiting and now >= self.deadline

    def receive_data(self, data: bytes) -> Event | None:
        """Feed bytes from a one-shot author; return its event once complete.

        Raises
        ------
        MalformedMessage, UnknownMessage
            If the first frame is not a VOEvent with a role and IVORN (a Transport message
            included); the connection is then closed with no reply, as Comet does.
        FrameTooLarge
            On an oversize length prefix; closed with no reply.

        Examples
        --------
        >>> from vohub.vtp.framing import encode_frame
        >>> conn = ReceiverConnection(local_ivo="ivo://hub/b", now=0.0, peer="h:1")
        >>> conn.receive_data(encode_frame(b"<html/>"))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        vohub.vtp.errors.UnknownMessage: root element 'html' is neither ... (peer=h:1)
        >>> conn.closed, conn.data_to_send()
        (True, b'')
        """
        if self.state is not ReceiverState.AWAITING_EVENT:
            return None
        events = self.receive_events(data, now=None)
        if self.error is not None and self.closed:
            raise self.error
        return events[0] if events else None

    def receive_events(self, data: bytes, now: float | None) -> list[Event]:
        """Feed bytes from the author; return the events completed by them, in order.

        A protocol error does not raise: it is kept in :attr:`error`, and the connection is
        then CLOSED (one-shot: no reply, as Comet) or DRAINING (pipelining: the events already
        returned still get their verdicts). ``now``, if given, moves a pipelining deadline.

        Examples
        --------
        >>> from vohub.vtp.framing import encode_frame
        >>> from vohub.vtp.messages import Authenticate, decode, encode
        >>> conn = ReceiverConnection(local_ivo="ivo://hub/b", now=0.0, allow_pipelining=True)
        >>> hello = Authenticate("ivo://me/author", pipelining=True)
        >>> conn.receive_events(encode_frame(encode(hello, 0.0)), now=0.0)
        []
        >>> decode(conn.data_to_send()[4:]).pipelining
        True
        >>> two = b"".join(encode_frame(b'<VOEvent role="test" ivorn="ivo://a/b#%d"/>' % i)
        ...                for i in (1, 2))
        >>> [e.ivorn for e in conn.receive_events(two, now=1.0)]
        ['ivo://a/b#1', 'ivo://a/b#2']
        >>> conn.accept(now=2.0); conn.reject("no", now=2.0)
        >>> from vohub.vtp.framing import FrameDecoder
        >>> frames = FrameDecoder(); frames.feed(conn.data_to_send())
        >>> [type(decode(f)).__name__ for f in frames]
        ['Ack', 'Nak']
        """
        if self.state not in (ReceiverState.AWAITING_EVENT, ReceiverState.PIPELINING):
            return []
        events: list[Event] = []
        try:
            for message in self._frames(data):
                event = self._take(message, self.connected_at if now is None else now)
                if event is not None:
                    events.append(event)
                    if not self.pipelining:
                        break
        except VTPError as exc:
            self._fail(exc)
        if events and now is not None and self.pipelining:
            self.deadline = now + self.timeout
        return events

    def accept(self, now: float) -> None:
        """Queue the ``ack`` for the oldest event awaiting a verdict (handlers run after this).

        Raises
        ------
        IllegalTransition
            Unless an event is awaiting its verdict.

        Examples
        --------
        >>> from vohub.vtp.framing import encode_frame
        >>> from vohub.vtp.messages import decode
        >>> conn = ReceiverConnection(local_ivo="ivo://hub/b", now=0.0)
        >>> _ = conn.receive_data(encode_frame(b'<VOEvent role="test" ivorn="ivo://a/b#1"/>'))
        >>> conn.accept(now=1.0)
        >>> decode(conn.data_to_send()[4:])
        Ack(ivorn='ivo://a/b#1', response='ivo://hub/b', timestamp='1970-01-01T00:00:01Z')
        """
        self._queue(Ack(self._verdict_for("accept"), self.local_ivo), now)
        self._answered()

    def reject(self, reason: str, now: float) -> None:
        """Queue a ``nak`` with Meta/Result ``Event rejected: <reason>`` (Comet's text).

        Raises
        ------
        IllegalTransition
            Unless an event is awaiting its verdict.

        Examples
        --------
        >>> conn = ReceiverConnection(local_ivo="ivo://hub/b", now=0.0, peer="h:1")
        >>> conn.reject("too late", now=1.0)
        Traceback (most recent call last):
        ...
        vohub.vtp.errors.IllegalTransition: cannot reject: connection is awaiting-event (peer=h:1)
        """
        ivorn = self._verdict_for("reject")
        self._queue(Nak(ivorn, self.local_ivo, f"Event rejected: {reason}"), now)
        self._answered()

    def receive_eof(self) -> None:
        """Note that the author hung up (or half-closed: verdicts still due are still sent).

        Raises
        ------
        TruncatedFrame
            If it hung up in the middle of a frame.

        Examples
        --------
        >>> conn = ReceiverConnection(local_ivo="ivo://hub/b", now=0.0)
        >>> conn.receive_eof(); conn.closed
        True
        """
        if self.state is ReceiverState.AWAITING_EVENT:
            self.state = ReceiverState.CLOSED
        elif self.state is ReceiverState.PIPELINING:
            self.state = ReceiverState.DRAINING if self.awaiting else ReceiverState.CLOSED
        else:
            return
        self._decoder.close()

    def unreadable(self, error: VTPError) -> None:
        """The oldest event awaiting its verdict (read by its head) proved unreadable.

        The connection ends as if its frame were unreadable: no reply for it nor for the
        events after it (dropped), and a close once the verdicts already queued are written.

        Examples
        --------
        >>> from vohub.vtp.framing import encode_frame
        >>> from vohub.vtp.errors import MalformedMessage
        >>> conn = ReceiverConnection(local_ivo="ivo://hub/b", now=0.0, read_heads=True)
        >>> _ = conn.receive_data(encode_frame(b'<VOEvent role="test" ivorn="ivo://a/b#1">'))
        >>> conn.unreadable(MalformedMessage("not well-formed XML"))
        >>> conn.closed, conn.data_to_send()
        (True, b'')
        """
        self._verdict_for("drop")
        self.awaiting.clear()
        self.error = error
        self.state = ReceiverState.CLOSED

    def _message(self, payload: bytes) -> Message:
        if self.read_heads:
            event = peek_event(payload)
            if event is not None:
                return event
        return decode(payload, any_root=True)

    def _take(self, message: Message | Unreadable, now: float) -> Event | None:
        if isinstance(message, Unreadable):
            raise message.error
        if isinstance(message, Event):
            self.awaiting.append(message.ivorn)
            if not self.pipelining:
                self.event, self.state = message, ReceiverState.VALIDATING
            return message
        if isinstance(message, Authenticate) and self._grants(message):
            reply = Authenticate(message.origin, self.local_ivo, pipelining=True)
            self._queue(reply, now)
            self.state = ReceiverState.PIPELINING
            return None
        if isinstance(message, Authenticate) and message.pipelining and not self.allow_pipelining:
            raise PipeliningDeclined("pipelining is not allowed here", peer=self.peer)
        got = type(message).__name__
        raise UnknownMessage(f"expected a VOEvent on the receive port, got {got}", peer=self.peer)

    def _grants(self, message: Authenticate) -> bool:
        return (
            message.pipelining
            and self.allow_pipelining
            and self.state is ReceiverState.AWAITING_EVENT
        )

    def _fail(self, error: VTPError) -> None:
        self.error = error
        if self.pipelining and self.awaiting:
            self.state = ReceiverState.DRAINING
        else:
            self.state = ReceiverState.CLOSED

    def _answered(self) -> None:
        self.awaiting.popleft()
        if self.state is ReceiverState.PIPELINING:
            return
        if self.state is ReceiverState.VALIDATING or not self.awaiting:
            self.state = ReceiverState.CLOSED

    def _verdict_for(self, action: str) -> str:
        if not self.awaiting or self.state is ReceiverState.CLOSED:
            raise IllegalTransition(
                f"cannot {action}: connection is {self.state.value}", peer=self.peer
            )
        return self.awaiting[0]


def peek_event(payload: bytes) -> Event | None:
    """A VOEvent read by its root start tag only (no tree), when that is plainly enough; else None.

    For a broker that checks the rest elsewhere: IVORN, role and namespace come from
    :func:`vohub.vtp.canonical.event_root`, when a parser would read them the same (printable
    ASCII, no whitespace, a known role). None means "decode it in full" (which names what is
    wrong). It is not proved well-formed: :attr:`~vohub.vtp.messages.Event.element` raises.

    Examples
    --------
    >>> event = peek_event(b'<VOEvent role="test" ivorn="ivo://a.b/c#1"><Who/></VOEvent>')
    >>> event.ivorn, event.role, event.tree
    ('ivo://a.b/c#1', 'test', None)
    >>> peek_event(b'<VOEvent role="drill" ivorn="ivo://a.b/c#1"/>') is None
    True
    """
    head = canonical.event_root(payload)
    if head is None:
        return None
    ivorn, role, namespace = head
    if role not in VOEVENT_ROLES or not ivorn.isascii() or not ivorn.isprintable() or " " in ivorn:
        return None
    return Event(payload, ivorn, role, namespace=namespace)

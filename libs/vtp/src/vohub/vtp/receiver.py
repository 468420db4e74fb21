"""Broker-side VTP state machine for the receive port: one author, one event, one verdict."""

from __future__ import annotations

import enum

from vohub.vtp._endpoint import Endpoint
from vohub.vtp.errors import IllegalTransition, UnknownMessage, VTPError
from vohub.vtp.framing import COMET_MAX_FRAME_SIZE, DEFAULT_MAX_FRAME_SIZE
from vohub.vtp.messages import Ack, Event, Message, Nak, Unreadable

#: Comet closes an author connection this long after connect, data or not.
RECEIVE_TIMEOUT = 20.0

# Theory of operation: the broker's end of an author connection
# -------------------------------------------------------------
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
        event = self._verdict_for("accept")
        self._queue(Ack(event.ivorn, self.local_ivo), now)
        self.state = ReceiverState.CLOSED

    def reject(self, reason: str, now: float) -> None:
        """Queue a ``nak`` with Meta/Result ``Event rejected: <reason>`` (Comet's text) and close.

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
        event = self._verdict_for("reject")
        self._queue(Nak(event.ivorn, self.local_ivo, f"Event rejected: {reason}"), now)
        self.state = ReceiverState.CLOSED

    def receive_eof(self) -> None:
        """Note that the author hung up.

        Raises
        ------
        TruncatedFrame
            If it hung up in the middle of a frame.

        Examples
        --------
        >>> conn = ReceiverConnection(local_ivo="ivo://hub/b", now=0.0)
        >>> conn.receive_eof()
        >>> conn.closed
        True
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

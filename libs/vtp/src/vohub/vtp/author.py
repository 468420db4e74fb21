"""Author-side VTP state machine: send one VOEvent to a broker's receive port, read the verdict."""

from __future__ import annotations

import enum

from vohub.vtp._endpoint import Endpoint
from vohub.vtp.errors import (
    ClosedWithoutReply,
    IllegalTransition,
    InvalidOutgoingEvent,
    RemoteProtocolError,
    UnexpectedMessage,
)
from vohub.vtp.framing import COMET_MAX_FRAME_SIZE, DEFAULT_MAX_FRAME_SIZE
from vohub.vtp.messages import Ack, Event, IAmAlive, Nak, Unreadable, parse_event

# Theory of operation
# -------------------
# VTP's author connection carries exactly one event (Comet acks, then closes from the broker
# side; an author that pipelines several events gets some acked, some silently dropped).
#
#     IDLE --send(packet)--> AWAITING_REPLY --ack/nak received--> DONE
#                                  |
#                                  +--EOF or unreadable reply--> FAILED (error raised)
#
# Invariants: at most one event is ever queued; once DONE, the reply is the first ack or nak
# that arrived, and later bytes are ignored; the ack's Origin is *not* required to equal our
# IVORN (it is reported as received, so the caller can check it).


class AuthorState(enum.Enum):
    """States of :class:`AuthorConnection`."""

    IDLE = "idle"
    AWAITING_REPLY = "awaiting-reply"
    DONE = "done"
    FAILED = "failed"


class AuthorConnection(Endpoint):
    """The author's side of one submission: one event out, one ``ack`` or ``nak`` back.

    Parameters
    ----------
    peer
        ``host:port`` of the broker, named in errors.
    max_send_size
        Largest event we send; defaults to Comet's 99 999 bytes, above which Comet hangs up.
    max_frame_size
        Largest reply frame we accept.

    Examples
    --------
    >>> from vohub.vtp.framing import encode_frame
    >>> from vohub.vtp.messages import encode
    >>> author = AuthorConnection()
    >>> packet = b'<VOEvent role="test" ivorn="ivo://a.b/c#1"/>'
    >>> author.send(packet)
    >>> author.data_to_send() == encode_frame(packet)
    True
    >>> reply = encode_frame(encode(Ack("ivo://a.b/c#1", "ivo://broker/x"), 0))
    >>> author.receive_data(reply)
    Ack(ivorn='ivo://a.b/c#1', response='ivo://broker/x', timestamp='1970-01-01T00:00:00Z')
    >>> author.state
    <AuthorState.DONE: 'done'>
    """

    def __init__(
        self,
        *,
        peer: str | None = None,
        max_send_size: int = COMET_MAX_FRAME_SIZE,
        max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
    ) -> None:
        super().__init__(peer=peer, max_frame_size=max_frame_size, max_send_size=max_send_size)
        self.state = AuthorState.IDLE
        self.event: Event | None = None
        self.reply: Ack | Nak | None = None

    @property
    def ivorn(self) -> str | None:
        """IVORN of the event being sent, once :meth:`send` succeeded.

        >>> author = AuthorConnection()
        >>> author.send(b'<VOEvent role="test" ivorn="ivo://a/b#1"/>')
        >>> author.ivorn, AuthorConnection().ivorn
        ('ivo://a/b#1', None)
        """
        return self.event.ivorn if self.event else None

    def send(self, packet: bytes) -> None:
        """Queue ``packet`` (a VOEvent, sent byte for byte) for the broker.

        Raises
        ------
        InvalidOutgoingEvent
            If ``packet`` is not a VOEvent with a known role and an IVORN.
        OutgoingFrameTooLarge
            If it is larger than ``max_send_size``.
        IllegalTransition
            If an event was already sent on this connection.

        Examples
        --------
        >>> AuthorConnection().send(b"<Transport role='ack'/>")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        vohub.vtp.errors.InvalidOutgoingEvent: not a VOEvent: expected a VOEvent, got ... 'ack'
        """
        if self.state is not AuthorState.IDLE:
            raise IllegalTransition(
                f"one event per author connection; already {self.state.value}",
                peer=self.peer,
                ivorn=self.ivorn,
            )
        try:
            event = parse_event(packet)
        except RemoteProtocolError as exc:
            raise InvalidOutgoingEvent(f"not a VOEvent: {exc.detail}", peer=self.peer) from exc
        self._queue(event, 0.0)
        self.event = event
        self.state = AuthorState.AWAITING_REPLY

    def receive_data(self, data: bytes) -> Ack | Nak | None:
        """Feed bytes from the broker; return the verdict once it is complete.

        Broker ``iamalive`` messages are tolerated and ignored.

        Raises
        ------
        UnexpectedMessage
            For data before :meth:`send`, or a reply that is neither ack, nak nor iamalive.
        MalformedMessage, UnknownMessage
            If the reply cannot be read.
        FrameTooLarge
            If the reply's length prefix is over ``max_frame_size``.

        Examples
        --------
        >>> AuthorConnection(peer="h:1").receive_data(b"\\x00")
        Traceback (most recent call last):
        ...
        vohub.vtp.errors.UnexpectedMessage: broker sent data before our event (peer=h:1)
        """
        if self.state is AuthorState.DONE:
            return None
        if self.state is not AuthorState.AWAITING_REPLY:
            raise UnexpectedMessage("broker sent data before our event", peer=self.peer)
        for message in self._frames(data):
            if isinstance(message, Ack | Nak):
                self.reply, self.state = message, AuthorState.DONE
                return message
            self._reject(message)
        return None

    def receive_eof(self) -> None:
        """Note that the broker closed the connection.

        Raises
        ------
        ClosedWithoutReply
            If no ack or nak had arrived (Comet's answer to oversize or unreadable events).

        Examples
        --------
        >>> author = AuthorConnection(peer="h:1")
        >>> author.send(b'<VOEvent role="test" ivorn="ivo://a/b#1"/>')
        >>> author.receive_eof()
        Traceback (most recent call last):
        ...
        vohub.vtp.errors.ClosedWithoutReply: closed without ack or nak (peer=h:1, ivorn=ivo://a/b#1)
        """
        if self.state is AuthorState.DONE:
            return
        self.state = AuthorState.FAILED
        raise ClosedWithoutReply("closed without ack or nak", peer=self.peer, ivorn=self.ivorn)

    def _reject(self, message: object) -> None:
        if isinstance(message, IAmAlive):
            return
        self.state = AuthorState.FAILED
        if isinstance(message, Unreadable):
            raise message.error
        raise UnexpectedMessage(
            f"expected ack or nak, got {type(message).__name__}", peer=self.peer, ivorn=self.ivorn
        )

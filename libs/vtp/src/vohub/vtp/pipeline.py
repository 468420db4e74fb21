"""Author-side pipelining: many VOEvents over one receive-port connection, where the broker agrees.

VTP gives an author one event per connection (the broker acks, then closes). vohub brokers
also accept an opt-in (:mod:`vohub.vtp.receiver`): the author's first frame is a Transport
``authenticate`` carrying ``Meta/Param name="vohub-pipelining" value="1"``; a broker that
agrees answers with an ``authenticate`` carrying the same Param, then answers every event
sent on the connection, in order, until the author closes its side. A broker that does not
(Comet 3.1.0 included) closes the connection without a reply, as it does for any Transport
message on that port; nothing was submitted, so the author falls back to one connection per
event.
"""

from __future__ import annotations

import enum
from collections import deque

from vohub.vtp._endpoint import Endpoint
from vohub.vtp.canonical import event_head
from vohub.vtp.errors import (
    ClosedWithoutReply,
    IllegalTransition,
    InvalidOutgoingEvent,
    RemoteProtocolError,
    UnexpectedMessage,
)
from vohub.vtp.framing import COMET_MAX_FRAME_SIZE, DEFAULT_MAX_FRAME_SIZE, encode_frame
from vohub.vtp.messages import (
    Ack,
    Authenticate,
    IAmAlive,
    Nak,
    Unreadable,
    parse_event,
)
from vohub.vtp.roles import VOEVENT_ROLES

#: Origin of the request when the author names no IVOID of its own.
ANONYMOUS_AUTHOR = "ivo://vohub/anonymous-author"

# Theory of operation
# -------------------
#
#     ASKING --authenticate with the Param--> OPEN --EOF--> CLOSED
#        |                                     |
#        +--EOF (no reply)--> REFUSED          +--unreadable or unexpected reply--> FAILED
#        +--anything else---> FAILED (raised)
#
# In OPEN, send() queues an event and remembers its IVORN; each ack or nak answers the oldest
# IVORN still in flight (the broker answers in order). Broker iamalives are ignored. EOF with
# events still in flight raises ClosedWithoutReply naming how many. Nothing may be sent before
# the grant: an event sent with the request would be relayed by a Comet that then closes
# without acking it, and a retry on a new connection would be refused as a repeat.


class PipelineState(enum.Enum):
    """States of :class:`PipelinedAuthor`."""

    ASKING = "asking"
    OPEN = "open"
    REFUSED = "refused"
    FAILED = "failed"
    CLOSED = "closed"


class PipelinedAuthor(Endpoint):
    """The author's side of a pipelined connection: events out, verdicts back in order.

    Parameters
    ----------
    now
        Current time (seconds since the epoch), stamped on the request.
    local_ivo
        Our IVOID, sent as the request's ``Origin``.
    peer
        ``host:port`` of the broker, named in errors.
    max_send_size
        Largest event sent (Comet's 99 999 bytes by default).
    max_frame_size
        Largest reply frame accepted.

    Examples
    --------
    >>> from vohub.vtp.framing import encode_frame
    >>> from vohub.vtp.messages import decode, encode
    >>> author = PipelinedAuthor(now=0.0)
    >>> decode(author.data_to_send()[4:]).pipelining
    True
    >>> grant = Authenticate(ANONYMOUS_AUTHOR, "ivo://hub/b", pipelining=True)
    >>> author.receive_data(encode_frame(encode(grant, 0.0))), author.state
    ([], <PipelineState.OPEN: 'open'>)
    >>> author.send(b'<VOEvent role="test" ivorn="ivo://a/b#1"/>')
    'ivo://a/b#1'
    >>> author.receive_data(encode_frame(encode(Ack("ivo://a/b#1", "ivo://hub/b"), 0.0)))
    [Ack(ivorn='ivo://a/b#1', response='ivo://hub/b', timestamp='1970-01-01T00:00:00Z')]
    """

    def __init__(
        self,
        *,
        now: float,
        local_ivo: str = ANONYMOUS_AUTHOR,
        peer: str | None = None,
        max_send_size: int = COMET_MAX_FRAME_SIZE,
        max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
    ) -> None:
        super().__init__(peer=peer, max_frame_size=max_frame_size, max_send_size=max_send_size)
        self.state = PipelineState.ASKING
        self.in_flight: deque[str] = deque()
        self._queue(Authenticate(local_ivo, pipelining=True), now)

    def send(self, packet: bytes) -> str:
        """Queue ``packet`` (a VOEvent, sent byte for byte); return its IVORN.

        Only its root start tag is checked when that is plainly written
        (:func:`~vohub.vtp.canonical.event_head`); the whole packet otherwise.

        Raises
        ------
        InvalidOutgoingEvent
            If ``packet`` is not a VOEvent with a known role and an IVORN.
        OutgoingFrameTooLarge
            If it is larger than ``max_send_size``.
        IllegalTransition
            Unless the broker granted pipelining and the connection is open.

        Examples
        --------
        >>> PipelinedAuthor(now=0.0, peer="h:1").send(b"<x/>")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        vohub.vtp.errors.IllegalTransition: cannot send: connection is asking (peer=h:1)
        """
        if self.state is not PipelineState.OPEN:
            raise IllegalTransition(
                f"cannot send: connection is {self.state.value}", peer=self.peer
            )
        head = event_head(packet)  # a bulk sender's check: the root tag (the broker does the rest)
        if head is not None and head[1] in VOEVENT_ROLES:
            ivorn = head[0]
        else:
            try:
                ivorn = parse_event(packet).ivorn
            except RemoteProtocolError as exc:
                raise InvalidOutgoingEvent(f"not a VOEvent: {exc.detail}", peer=self.peer) from exc
        self._queue_frame(encode_frame(packet, self.max_send_size, peer=self.peer))
        self.in_flight.append(ivorn)
        return ivorn

    def receive_data(self, data: bytes) -> list[Ack | Nak]:
        """Feed bytes from the broker; return the verdicts they complete, oldest event first.

        Raises
        ------
        UnexpectedMessage
            A first reply other than the grant, a verdict with no event in flight, or a
            Transport message an author never gets.
        MalformedMessage, UnknownMessage, FrameTooLarge
            If a reply cannot be read; the connection is then unusable.

        Examples
        --------
        >>> from vohub.vtp.framing import encode_frame
        >>> from vohub.vtp.messages import encode
        >>> author = PipelinedAuthor(now=0.0, peer="h:1")
        >>> author.receive_data(encode_frame(encode(Ack("ivo://a/b#1"), 0.0)))
        Traceback (most recent call last):
        ...
        vohub.vtp.errors.UnexpectedMessage: broker did not grant pipelining: got Ack (peer=h:1)
        """
        replies: list[Ack | Nak] = []
        for message in self._frames(data):
            if self.state is PipelineState.ASKING:
                self._granted(message)
            elif isinstance(message, Ack | Nak) and self.in_flight:
                self.in_flight.popleft()
                replies.append(message)
            elif not isinstance(message, IAmAlive):
                self._fail(message)
        return replies

    def receive_eof(self) -> None:
        """Note that the broker closed the connection.

        Before the grant this means *no pipelining here* (state REFUSED, nothing raised).

        Raises
        ------
        ClosedWithoutReply
            If events were still waiting for their verdicts.

        Examples
        --------
        >>> author = PipelinedAuthor(now=0.0)
        >>> author.receive_eof()
        >>> author.state
        <PipelineState.REFUSED: 'refused'>
        """
        if self.state is PipelineState.ASKING:
            self.state = PipelineState.REFUSED
            return
        self.state = PipelineState.CLOSED
        if self.in_flight:
            raise ClosedWithoutReply(
                f"closed with {len(self.in_flight)} events without ack or nak",
                peer=self.peer,
                ivorn=self.in_flight[0],
            )

    def _granted(self, message: object) -> None:
        if isinstance(message, Authenticate) and message.pipelining:
            self.state = PipelineState.OPEN
            return
        self.state = PipelineState.FAILED
        if isinstance(message, Unreadable):
            raise message.error
        raise UnexpectedMessage(
            f"broker did not grant pipelining: got {type(message).__name__}", peer=self.peer
        )

    def _fail(self, message: object) -> None:
        self.state = PipelineState.FAILED
        if isinstance(message, Unreadable):
            raise message.error
        raise UnexpectedMessage(
            f"expected ack or nak, got {type(message).__name__}",
            peer=self.peer,
            ivorn=self.in_flight[0] if self.in_flight else None,
        )

"""Subscriber-side VTP state machine: follow a broker's broadcast port, answer, ack."""

from __future__ import annotations

from collections.abc import Sequence

from vohub.vtp._endpoint import Endpoint
from vohub.vtp.errors import IllegalTransition
from vohub.vtp.filters import compile_filters
from vohub.vtp.framing import COMET_MAX_FRAME_SIZE, DEFAULT_MAX_FRAME_SIZE
from vohub.vtp.messages import Ack, Authenticate, Event, IAmAlive, Message, Unreadable

#: Comet's subscriber reconnects after this long without any message from the broker.
DEFAULT_IDLE_TIMEOUT = 120.0

# Theory of operation
# -------------------
# One state, OPEN, until the edge reports EOF or gives up (CLOSED). For each frame:
#
#   authenticate -> reply authenticate: Origin copied, Response = our IVOID, Meta with our
#                   filters (an empty <Meta/> if none), as Comet's --remote does.
#   iamalive     -> reply iamalive: Origin copied, Response = our IVOID.
#   VOEvent      -> reply ack (Origin = its IVORN), then hand the event to the application.
#                   We ack EVERY event, duplicates and invalid ones included, and never nak:
#                   VTP Note §6.4 lets a broker drop a subscriber that naks (Comet does, at once),
#                   so Comet's subscriber sends ack with can_nak=False; so do we.
#   ack/nak/unreadable -> reported to the application, otherwise ignored (Comet logs them).
#
# Liveness: every readable message moves the idle deadline to now + idle_timeout (Comet: 120 s;
# the broker's iamalive comes every 60 s). Unreadable frames do not move it. The edge asks
# `deadline` and reconnects when it passes.
#
# Invariants: replies are queued in the order the messages arrived; an ack is queued before
# the event is returned, so the application never sees an event we have not acked.


class SubscriberConnection(Endpoint):
    """The subscriber's side of one connection to a broker's broadcast port.

    Parameters
    ----------
    local_ivo
        Our IVOID, sent as ``Response``; ``None`` leaves ``Response`` out (Comet does the same).
    filters
        XPath filters sent to the broker in our ``authenticate`` reply; validated here.
    now
        Current time (seconds since the epoch); starts the idle clock.
    idle_timeout
        Seconds of silence after which the connection counts as dead.
    peer
        ``host:port`` of the broker, named in errors.
    max_frame_size
        Largest frame accepted from the broker.

    Raises
    ------
    InvalidFilter
        If a filter does not compile, so we never send junk upstream.

    Examples
    --------
    >>> from vohub.vtp.framing import encode_frame
    >>> from vohub.vtp.messages import encode, decode
    >>> sub = SubscriberConnection(local_ivo="ivo://me/sub", filters=["//Why"], now=0.0)
    >>> greeting = encode_frame(encode(Authenticate("ivo://broker/b"), 5.0))
    >>> [type(m).__name__ for m in sub.receive_data(greeting, now=5.0)]
    ['Authenticate']
    >>> reply = decode(sub.data_to_send()[4:])
    >>> reply.origin, reply.response, reply.filters
    ('ivo://broker/b', 'ivo://me/sub', ('//Why',))
    >>> sub.deadline
    125.0
    """

    def __init__(
        self,
        *,
        local_ivo: str | None,
        filters: Sequence[str] = (),
        now: float,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        peer: str | None = None,
        max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
    ) -> None:
        super().__init__(
            peer=peer, max_frame_size=max_frame_size, max_send_size=COMET_MAX_FRAME_SIZE
        )
        self.local_ivo = local_ivo
        self.filters = compile_filters(filters).expressions
        self.idle_timeout = idle_timeout
        self.last_activity = now
        self.closed = False
        self.events_acked = 0
        self.iamalives_answered = 0
        self.authenticated = False

    @property
    def deadline(self) -> float:
        """Time after which, without any readable message, the broker counts as gone.

        >>> SubscriberConnection(local_ivo=None, now=10.0, idle_timeout=60.0).deadline
        70.0
        """
        return self.last_activity + self.idle_timeout

    def timed_out(self, now: float) -> bool:
        """Whether the idle deadline has passed.

        Examples
        --------
        >>> sub = SubscriberConnection(local_ivo=None, now=0.0)
        >>> sub.timed_out(119.0), sub.timed_out(120.0)
        (False, True)
        """
        return now >= self.deadline

    def receive_data(self, data: bytes, now: float) -> list[Message | Unreadable]:
        """Feed bytes from the broker; queue the replies; return what arrived.

        Events in the result have already been acked (the ack is in :meth:`data_to_send`).

        Raises
        ------
        FrameTooLarge
            If a length prefix is over ``max_frame_size``; the connection must be dropped.
        IllegalTransition
            If called after :meth:`receive_eof`.

        Examples
        --------
        >>> from vohub.vtp.framing import encode_frame
        >>> sub = SubscriberConnection(local_ivo="ivo://me/s", now=0.0)
        >>> [e.ivorn for e in sub.receive_data(encode_frame(b'<VOEvent role="test" '
        ...                                                 b'ivorn="ivo://a/b#1"/>'), now=1.0)]
        ['ivo://a/b#1']
        >>> from vohub.vtp.messages import decode
        >>> decode(sub.data_to_send()[4:]).ivorn   # already acked
        'ivo://a/b#1'
        """
        if self.closed:
            raise IllegalTransition("connection already closed", peer=self.peer)
        received: list[Message | Unreadable] = []
        for message in self._frames(data):
            received.append(message)
            if not isinstance(message, Unreadable):
                self.last_activity = now
                self._answer(message, now)
        return received

    def receive_eof(self) -> None:
        """Note that the broker closed the connection.

        Raises
        ------
        TruncatedFrame
            If the broker hung up in the middle of a frame.

        Examples
        --------
        >>> sub = SubscriberConnection(local_ivo=None, now=0.0)
        >>> sub.receive_eof()
        >>> sub.closed
        True
        """
        self.closed = True
        self._decoder.close()

    def _answer(self, message: Message, now: float) -> None:
        if isinstance(message, Event):
            self._queue(Ack(message.ivorn, self.local_ivo), now)
            self.events_acked += 1
        elif isinstance(message, IAmAlive):
            self._queue(IAmAlive(message.origin, self.local_ivo), now)
            self.iamalives_answered += 1
        elif isinstance(message, Authenticate):
            self._queue(Authenticate(message.origin, self.local_ivo, self.filters), now)
            self.authenticated = True

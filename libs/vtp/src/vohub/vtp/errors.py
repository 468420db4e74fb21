"""Exception types of the VTP library: one class per failure, naming the peer or IVORN at fault.

The tree follows h11: :class:`LocalProtocolError` means *we* were about to do something illegal
(send an oversize frame, send a non-VOEvent as an event, act out of turn);
:class:`RemoteProtocolError` means *the peer* sent something illegal. Transport-level failures
(no route to the broker, no reply in time) are direct subclasses of :class:`VTPError`.

Every instance carries ``peer`` and ``ivorn`` (``None`` when unknown) and ``nak_reason``: the text
a broker should put in a ``nak`` for this failure, or ``None`` when the right answer is to close
without a reply (as Comet does for unparsable data and oversize frames).
"""

from __future__ import annotations


class VTPError(Exception):
    """Base of every error raised by :mod:`vohub.vtp`; never raised itself.

    Parameters
    ----------
    detail
        What went wrong, in words.
    peer
        ``host:port`` of the other side, when known.
    ivorn
        IVORN of the VOEvent concerned, when known.
    nak_reason
        Text to send back in a ``nak``, or ``None`` if the connection should just be closed.

    Examples
    --------
    >>> str(FrameTooLarge(3860529152, 99999, peer="127.0.0.1:5000"))
    'frame length 3860529152 exceeds the limit of 99999 bytes (peer=127.0.0.1:5000)'
    >>> VTPError("x")
    Traceback (most recent call last):
    ...
    TypeError: VTPError is abstract: raise one of its subclasses
    """

    def __new__(cls, *args: object, **kwargs: object) -> VTPError:
        if cls in _ABSTRACT:
            raise TypeError(f"{cls.__name__} is abstract: raise one of its subclasses")
        return super().__new__(cls, *args)

    def __init__(
        self,
        detail: str,
        *,
        peer: str | None = None,
        ivorn: str | None = None,
        nak_reason: str | None = None,
    ) -> None:
        self.detail = detail
        self.peer = peer
        self.ivorn = ivorn
        self.nak_reason = nak_reason
        context = [f"{k}={v}" for k, v in (("peer", peer), ("ivorn", ivorn)) if v is not None]
        super().__init__(f"{detail} ({', '.join(context)})" if context else detail)


class LocalProtocolError(VTPError):
    """We were about to break the protocol; nothing was sent."""


class RemoteProtocolError(VTPError):
    """The peer broke the protocol."""


# --- local -----------------------------------------------------------------------------------


class OutgoingFrameTooLarge(LocalProtocolError):
    """A payload is larger than the frame limit for the peer (Comet hangs up above 99 999 bytes)."""

    def __init__(
        self, size: int, max_size: int, *, peer: str | None = None, ivorn: str | None = None
    ) -> None:
        self.size = size
        self.max_size = max_size
        super().__init__(
            f"payload of {size} bytes exceeds the frame limit of {max_size} bytes",
            peer=peer,
            ivorn=ivorn,
        )


class InvalidOutgoingEvent(LocalProtocolError):
    """A packet we were asked to send as an event is not a VOEvent with a role and an IVORN."""


class IllegalTransition(LocalProtocolError):
    """A state machine was asked to do something its current state forbids."""


# --- remote ----------------------------------------------------------------------------------


class FrameTooLarge(RemoteProtocolError):
    """A length prefix announces more bytes than the decoder accepts (often a little-endian prefix).

    Comet closes the connection without a reply on this error, and so should we.
    """

    def __init__(self, size: int, max_size: int, *, peer: str | None = None) -> None:
        self.size = size
        self.max_size = max_size
        super().__init__(f"frame length {size} exceeds the limit of {max_size} bytes", peer=peer)


class TruncatedFrame(RemoteProtocolError):
    """The peer closed the connection in the middle of a frame."""

    def __init__(self, received: int, expected: int, *, peer: str | None = None) -> None:
        self.received = received
        self.expected = expected
        super().__init__(
            f"connection closed after {received} of {expected} bytes of a frame", peer=peer
        )


class MalformedMessage(RemoteProtocolError):
    """A frame is not well-formed, safe XML, or lacks what its kind requires (a VOEvent's IVORN)."""


class UnknownMessage(RemoteProtocolError):
    """A well-formed frame that is neither a Transport message nor a VOEvent with a known role."""


class UnexpectedMessage(RemoteProtocolError):
    """A valid message that makes no sense in the connection's current state."""


class PipeliningDeclined(UnexpectedMessage):
    """An author asked to pipeline where the receiver does not allow it: the connection closes
    without a reply, as Comet's would, and the author falls back to a connection per event."""


class ClosedWithoutReply(RemoteProtocolError):
    """The broker closed an author connection without an ack or a nak.

    Comet does this for oversize frames, unparsable data and non-VOEvent roles.
    """


class EventRejected(RemoteProtocolError):
    """A broker's policy refuses an author's event; ``nak_reason`` is the text for the ``nak``.

    Examples
    --------
    >>> err = EventRejected("Previously seen by this broker", ivorn="ivo://a.b/c#1")
    >>> err.nak_reason
    'Event rejected: Previously seen by this broker'
    """

    def __init__(self, reason: str, *, peer: str | None = None, ivorn: str | None = None) -> None:
        self.reason = reason
        super().__init__(
            f"event rejected: {reason}",
            peer=peer,
            ivorn=ivorn,
            nak_reason=f"Event rejected: {reason}",
        )


# --- filters and transport -------------------------------------------------------------------


class InvalidFilter(VTPError):
    """An XPath filter expression does not compile.

    Examples
    --------
    >>> str(InvalidFilter("//[bad", "Invalid expression"))
    "invalid XPath filter '//[bad': Invalid expression"
    """

    def __init__(self, expression: str, reason: str, *, peer: str | None = None) -> None:
        self.expression = expression
        self.reason = reason
        super().__init__(f"invalid XPath filter {expression!r}: {reason}", peer=peer)


class BrokerUnreachable(VTPError):
    """Connecting to, writing to or reading from the broker failed at the socket level."""


class ReplyTimeout(VTPError):
    """The broker did not answer an author's event in time."""


class PeerSilent(VTPError):
    """Nothing arrived from the upstream broker within the idle timeout (Comet: 120 s)."""


_ABSTRACT: frozenset[type[VTPError]] = frozenset(
    {VTPError, LocalProtocolError, RemoteProtocolError}
)

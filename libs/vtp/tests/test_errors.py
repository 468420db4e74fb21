"""Error types: abstract bases refuse instantiation; each failure names its culprit."""

from __future__ import annotations

import pytest

from vohub.vtp import errors
from vohub.vtp.errors import (
    BrokerUnreachable,
    ClosedWithoutReply,
    EventRejected,
    FrameTooLarge,
    IllegalTransition,
    InvalidFilter,
    InvalidOutgoingEvent,
    LocalProtocolError,
    MalformedMessage,
    OutgoingFrameTooLarge,
    PeerSilent,
    PipeliningDeclined,
    RemoteProtocolError,
    ReplyTimeout,
    TruncatedFrame,
    UnexpectedMessage,
    UnknownMessage,
    VTPError,
)

PEER = "192.0.2.7:8098"
IVORN = "ivo://a.b/c#1"


@pytest.mark.parametrize("abstract", [VTPError, LocalProtocolError, RemoteProtocolError])
def test_bases_are_abstract(abstract: type[VTPError]) -> None:
    with pytest.raises(TypeError, match="is abstract"):
        abstract("x")


CASES: list[tuple[VTPError, type[VTPError], list[str]]] = [
    (
        OutgoingFrameTooLarge(100_000, 99_999, peer=PEER, ivorn=IVORN),
        LocalProtocolError,
        ["100000", "99999", PEER, IVORN],
    ),
    (InvalidOutgoingEvent("not a VOEvent: x", peer=PEER), LocalProtocolError, [PEER]),
    (IllegalTransition("cannot accept", peer=PEER, ivorn=IVORN), LocalProtocolError, [PEER, IVORN]),
    (FrameTooLarge(3_860_529_152, 99_999, peer=PEER), RemoteProtocolError, ["3860529152", PEER]),
    (TruncatedFrame(3, 5, peer=PEER), RemoteProtocolError, ["3 of 5", PEER]),
    (MalformedMessage("not well-formed XML", peer=PEER), RemoteProtocolError, [PEER]),
    (
        UnknownMessage("unknown role 'x'", peer=PEER, ivorn=IVORN),
        RemoteProtocolError,
        [PEER, IVORN],
    ),
    (UnexpectedMessage("expected ack", peer=PEER), RemoteProtocolError, [PEER]),
    (PipeliningDeclined("not allowed here", peer=PEER), UnexpectedMessage, [PEER]),
    (ClosedWithoutReply("closed", peer=PEER, ivorn=IVORN), RemoteProtocolError, [PEER, IVORN]),
    (
        EventRejected("Previously seen", peer=PEER, ivorn=IVORN),
        RemoteProtocolError,
        [PEER, IVORN, "Previously seen"],
    ),
    (InvalidFilter("//[bad", "Invalid expression", peer=PEER), VTPError, ["'//[bad'", PEER]),
    (BrokerUnreachable("refused", peer=PEER, ivorn=IVORN), VTPError, [PEER, IVORN]),
    (ReplyTimeout("no ack", peer=PEER, ivorn=IVORN), VTPError, [PEER, IVORN]),
    (PeerSilent("no message for 120 s", peer=PEER), VTPError, [PEER]),
]


@pytest.mark.parametrize(("error", "family", "culprits"), CASES, ids=lambda c: type(c).__name__)
def test_every_error_names_its_culprit(
    error: VTPError, family: type[VTPError], culprits: list[str]
) -> None:
    assert isinstance(error, family)
    for culprit in culprits:
        assert culprit in str(error)


def test_every_concrete_error_class_is_covered() -> None:
    concrete = {
        cls for cls in vars(errors).values() if isinstance(cls, type) and issubclass(cls, VTPError)
    } - {VTPError, LocalProtocolError, RemoteProtocolError}
    assert concrete == {type(e) for e, _, _ in CASES}


def test_nak_reason_only_where_a_nak_is_the_answer() -> None:
    assert (
        EventRejected("No per-event local ID").nak_reason == "Event rejected: No per-event local ID"
    )
    assert FrameTooLarge(1, 0).nak_reason is None  # Comet closes without a reply
    assert MalformedMessage("x").nak_reason is None

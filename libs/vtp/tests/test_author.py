"""Author state machine: one event out, one verdict back, on a fake stream."""

from __future__ import annotations

import pytest

from vohub.vtp.author import AuthorConnection, AuthorState
from vohub.vtp.errors import (
    ClosedWithoutReply,
    IllegalTransition,
    InvalidOutgoingEvent,
    MalformedMessage,
    OutgoingFrameTooLarge,
    UnexpectedMessage,
)
from vohub.vtp.framing import encode_frame
from vohub.vtp.messages import Ack, Authenticate, IAmAlive, Nak, encode

PACKET = b'<VOEvent role="observation" ivorn="ivo://a.b/c#1"/>'
BROKER = "ivo://vohub.test/brokerA"


def test_sends_exact_bytes_and_returns_ack() -> None:
    author = AuthorConnection(peer="127.0.0.1:8098")
    author.send(PACKET)
    assert author.data_to_send() == encode_frame(PACKET)
    assert author.state is AuthorState.AWAITING_REPLY
    wire = encode_frame(encode(Ack("ivo://a.b/c#1", BROKER), 0))
    assert author.receive_data(wire[:7]) is None
    assert author.receive_data(wire[7:]) == Ack("ivo://a.b/c#1", BROKER)
    assert author.state is AuthorState.DONE
    author.receive_eof()  # the broker closes after replying: fine


def test_returns_nak_with_reason_and_ignores_iamalive() -> None:
    author = AuthorConnection()
    author.send(PACKET)
    nak = Nak("ivo://a.b/c#1", BROKER, "Event rejected: No per-event local ID")
    wire = encode_frame(encode(IAmAlive(BROKER), 0)) + encode_frame(encode(nak, 0))
    assert author.receive_data(wire) == nak


def test_eof_without_reply_names_peer_and_ivorn() -> None:
    author = AuthorConnection(peer="127.0.0.1:8098")
    author.send(PACKET)
    with pytest.raises(ClosedWithoutReply) as caught:
        author.receive_eof()
    assert "127.0.0.1:8098" in str(caught.value)
    assert "ivo://a.b/c#1" in str(caught.value)
    assert author.state is AuthorState.FAILED


@pytest.mark.parametrize(
    ("packet", "text"),
    [
        (b"plain text", "not well-formed XML"),
        (b'<VOEvent role="observation"/>', "no ivorn attribute"),
        (b'<Transport role="ack"/>', "expected a VOEvent"),
    ],
)
def test_refuses_to_send_what_is_not_an_event(packet: bytes, text: str) -> None:
    author = AuthorConnection(peer="h:1")
    with pytest.raises(InvalidOutgoingEvent, match=text):
        author.send(packet)
    assert author.data_to_send() == b""
    assert author.state is AuthorState.IDLE


def test_refuses_oversize_event_naming_it() -> None:
    big = b'<VOEvent role="test" ivorn="ivo://a/b#big"><!--' + b"x" * 99_990 + b"--></VOEvent>"
    with pytest.raises(OutgoingFrameTooLarge, match="exceeds the frame limit of 99999"):
        AuthorConnection(peer="h:1").send(big)
    author = AuthorConnection(max_send_size=200_000)
    author.send(big)
    assert len(author.data_to_send()) == len(big) + 4


def test_one_event_per_connection() -> None:
    author = AuthorConnection()
    author.send(PACKET)
    with pytest.raises(IllegalTransition, match="one event per author connection"):
        author.send(PACKET)


def test_data_before_send_and_wrong_replies_are_errors() -> None:
    with pytest.raises(UnexpectedMessage, match="before our event"):
        AuthorConnection().receive_data(b"\x00")
    author = AuthorConnection()
    author.send(PACKET)
    with pytest.raises(UnexpectedMessage, match="expected ack or nak, got Authenticate"):
        author.receive_data(encode_frame(encode(Authenticate(BROKER), 0)))
    author = AuthorConnection()
    author.send(PACKET)
    with pytest.raises(MalformedMessage):
        author.receive_data(encode_frame(b"<oops"))

"""Subscriber state machine: replies, acks and the idle deadline, with a fake clock."""

from __future__ import annotations

import pytest

from vohub.vtp.errors import IllegalTransition, InvalidFilter, TruncatedFrame
from vohub.vtp.framing import FrameDecoder, encode_frame
from vohub.vtp.messages import (
    Ack,
    Authenticate,
    Event,
    IAmAlive,
    Message,
    Nak,
    Unreadable,
    decode,
    encode,
)
from vohub.vtp.subscriber import SubscriberConnection

BROKER = "ivo://vohub.test/brokerA"
ME = "ivo://vohub.test/me"
T0 = 1_000.0
PACKET = b'<VOEvent role="observation" ivorn="ivo://a.b/c#1"><Why/></VOEvent>'


def replies(sub: SubscriberConnection) -> list[Message]:
    decoder = FrameDecoder()
    decoder.feed(sub.data_to_send())
    return [decode(p) for p in decoder]


def frame(message: Message | bytes) -> bytes:
    return encode_frame(message if isinstance(message, bytes) else encode(message, T0))


def test_answers_authenticate_with_filters_and_iamalive_with_origin_copied() -> None:
    sub = SubscriberConnection(local_ivo=ME, filters=["//Why", "//How"], now=T0)
    got = sub.receive_data(frame(Authenticate(BROKER)) + frame(IAmAlive(BROKER)), T0 + 1)
    assert got == [Authenticate(BROKER), IAmAlive(BROKER)]
    assert replies(sub) == [Authenticate(BROKER, ME, ("//Why", "//How")), IAmAlive(BROKER, ME)]
    assert sub.authenticated
    assert sub.iamalives_answered == 1


def test_authenticate_reply_without_filters_has_empty_meta() -> None:
    sub = SubscriberConnection(local_ivo=ME, now=T0)
    sub.receive_data(frame(Authenticate(BROKER)), T0)
    assert b"<Meta/>" in sub.data_to_send()


def test_acks_every_event_before_returning_it_and_never_naks() -> None:
    sub = SubscriberConnection(local_ivo=ME, now=T0)
    got = sub.receive_data(frame(PACKET) + frame(PACKET), T0)
    assert [m.raw for m in got if isinstance(m, Event)] == [PACKET, PACKET]
    assert replies(sub) == [Ack("ivo://a.b/c#1", ME), Ack("ivo://a.b/c#1", ME)]
    assert sub.events_acked == 2


def test_byte_at_a_time_gives_the_same_result() -> None:
    sub = SubscriberConnection(local_ivo=ME, now=T0)
    wire = frame(Authenticate(BROKER)) + frame(PACKET)
    got: list[Message | Unreadable] = []
    for i in range(len(wire)):
        got += sub.receive_data(wire[i : i + 1], T0)
    assert [type(m).__name__ for m in got] == ["Authenticate", "Event"]
    assert [type(m).__name__ for m in replies(sub)] == ["Authenticate", "Ack"]


def test_idle_deadline_moves_with_readable_messages_only() -> None:
    sub = SubscriberConnection(local_ivo=None, now=T0, idle_timeout=120.0)
    assert sub.deadline == T0 + 120
    sub.receive_data(frame(IAmAlive(BROKER)), T0 + 60)
    assert not sub.timed_out(T0 + 179)
    assert sub.timed_out(T0 + 180)
    [bad] = sub.receive_data(frame(b"<garbage"), T0 + 100)
    assert isinstance(bad, Unreadable)
    assert sub.deadline == T0 + 180


def test_other_messages_are_reported_not_answered() -> None:
    sub = SubscriberConnection(local_ivo=ME, now=T0)
    got = sub.receive_data(frame(Nak("ivo://x#1")) + frame(Ack("ivo://x#2")), T0)
    assert got == [Nak("ivo://x#1"), Ack("ivo://x#2")]
    assert sub.data_to_send() == b""


def test_no_local_ivo_leaves_response_out() -> None:
    sub = SubscriberConnection(local_ivo=None, now=T0)
    sub.receive_data(frame(IAmAlive(BROKER)), T0)
    assert b"<Response>" not in sub.data_to_send()


def test_invalid_filter_is_refused_at_construction() -> None:
    with pytest.raises(InvalidFilter, match="'//\\[bad'"):
        SubscriberConnection(local_ivo=ME, filters=["//ok", "//[bad"], now=T0)


def test_eof_mid_frame_and_use_after_close() -> None:
    sub = SubscriberConnection(local_ivo=ME, now=T0, peer="h:8099")
    sub.receive_data(frame(PACKET)[:9], T0)
    with pytest.raises(TruncatedFrame, match="h:8099"):
        sub.receive_eof()
    with pytest.raises(IllegalTransition):
        sub.receive_data(b"", T0)

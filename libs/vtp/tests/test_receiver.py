"""The receive port's state machine reading events by their heads (for a broker with a judge)."""

from __future__ import annotations

import pytest

from vohub.vtp.errors import MalformedMessage
from vohub.vtp.framing import FrameDecoder, encode_frame
from vohub.vtp.messages import Authenticate, decode, encode
from vohub.vtp.receiver import ReceiverConnection, peek_event


def frames(data: bytes) -> list[bytes]:
    decoder = FrameDecoder()
    decoder.feed(data)
    return list(decoder)


@pytest.mark.parametrize(
    "payload",
    [
        b'<VOEvent role="test" ivorn="ivo://a.b/c#1\n2"/>',  # a parser turns \n into a space
        b'<VOEvent role="test" ivorn="ivo://a.b/c#\xc3\xa9"/>',  # not ASCII: encodings differ
        b'<VOEvent role="drill" ivorn="ivo://a.b/c#1"/>',  # unknown role: for the full decode
        b'<!DOCTYPE x><VOEvent role="test" ivorn="ivo://a.b/c#1"/>',
        b'<VOEvent role="test"/>',
    ],
)
def test_peek_event_leaves_anything_unusual_to_the_full_decode(payload: bytes) -> None:
    assert peek_event(payload) is None


def test_a_head_read_event_parses_on_demand_and_an_unreadable_one_gets_no_reply() -> None:
    conn = ReceiverConnection(
        local_ivo="ivo://hub/b", now=0.0, allow_pipelining=True, read_heads=True
    )
    good = b'<VOEvent role="test" ivorn="ivo://a/b#1"><Who/></VOEvent>'
    bad = b'<VOEvent role="test" ivorn="ivo://a/b#2"><Who></VOEvent>'
    conn.receive_events(encode_frame(encode(Authenticate("ivo://me", pipelining=True), 0)), 0)
    conn.data_to_send()
    first, _ = conn.receive_events(encode_frame(good) + encode_frame(bad), 1.0)
    assert first.tree is None
    assert first.element[0].tag == "Who"
    conn.accept(2.0)
    conn.unreadable(MalformedMessage("not well-formed XML"))
    assert [type(decode(f)).__name__ for f in frames(conn.data_to_send())] == ["Ack"]
    assert conn.closed
    assert conn.receive_events(encode_frame(good), 3.0) == []

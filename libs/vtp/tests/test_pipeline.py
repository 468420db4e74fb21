"""Pipelining on the receive port (a vohub extension): both state machines, then real sockets."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import ClassVar

import pytest
from lxml import etree

from vohub.vtp.broker import ReceiverConnection, ReceiverState
from vohub.vtp.client import Publisher
from vohub.vtp.errors import (
    ClosedWithoutReply,
    PipeliningDeclined,
    TruncatedFrame,
    UnexpectedMessage,
    UnknownMessage,
)
from vohub.vtp.framing import FrameDecoder, encode_frame
from vohub.vtp.messages import Ack, Authenticate, Message, Nak, decode, encode
from vohub.vtp.pipeline import ANONYMOUS_AUTHOR, PipelinedAuthor, PipelineState

HUB = "ivo://vohub.test/hub"
T0 = 1_795_592_693.0
ASK = encode_frame(encode(Authenticate("ivo://me/author", pipelining=True), T0))


def packet(n: int) -> bytes:
    return b'<VOEvent role="test" ivorn="ivo://a.b/c#%d"/>' % n


def frames(*numbers: int) -> bytes:
    return b"".join(encode_frame(packet(n)) for n in numbers)


def sent(machine: ReceiverConnection | PipelinedAuthor) -> list[Message]:
    decoder = FrameDecoder()
    decoder.feed(machine.data_to_send())
    return [decode(p) for p in decoder]


def granted() -> ReceiverConnection:
    conn = ReceiverConnection(local_ivo=HUB, now=T0, allow_pipelining=True, peer="h:1")
    assert conn.receive_events(ASK, now=T0) == []
    [grant] = sent(conn)
    assert grant == Authenticate("ivo://me/author", HUB, pipelining=True)
    return conn


def test_the_request_and_the_grant_are_valid_transport_messages(
    transport_schema: etree.XMLSchema,
) -> None:
    for message in (
        Authenticate(ANONYMOUS_AUTHOR, pipelining=True),
        Authenticate(ANONYMOUS_AUTHOR, HUB, pipelining=True),
    ):
        root = etree.fromstring(encode(message, T0))
        assert transport_schema.validate(root), transport_schema.error_log
        assert decode(encode(message, T0)) == message


def test_a_broker_that_does_not_allow_it_closes_without_reply_as_comet() -> None:
    conn = ReceiverConnection(local_ivo=HUB, now=T0, peer="h:1")
    with pytest.raises(PipeliningDeclined, match="pipelining is not allowed here"):
        conn.receive_data(ASK + frames(1))
    assert conn.closed
    assert conn.data_to_send() == b""


def test_events_are_answered_in_order_and_the_author_closes() -> None:
    conn = granted()
    assert [e.ivorn for e in conn.receive_events(frames(1, 2), now=T0 + 1)] == [
        "ivo://a.b/c#1",
        "ivo://a.b/c#2",
    ]
    conn.accept(T0 + 2)
    assert [e.ivorn for e in conn.receive_events(frames(3), now=T0 + 3)] == ["ivo://a.b/c#3"]
    conn.reject("Previously seen by this broker", T0 + 4)
    conn.receive_eof()
    assert conn.state is ReceiverState.DRAINING
    conn.accept(T0 + 5)
    assert conn.closed
    assert sent(conn) == [
        Ack("ivo://a.b/c#1", HUB),
        Nak("ivo://a.b/c#2", HUB, "Event rejected: Previously seen by this broker"),
        Ack("ivo://a.b/c#3", HUB),
    ]


def test_a_bad_frame_stops_reading_but_earlier_events_get_their_verdicts() -> None:
    conn = granted()
    events = conn.receive_events(frames(1) + encode_frame(b"<html/>") + frames(2), now=T0)
    assert [e.ivorn for e in events] == ["ivo://a.b/c#1"]
    assert isinstance(conn.error, UnknownMessage)
    assert conn.receive_events(frames(3), now=T0) == []
    conn.accept(T0)
    assert conn.closed
    assert sent(conn) == [Ack("ivo://a.b/c#1", HUB)]


def test_eof_inside_a_frame_is_reported_after_draining() -> None:
    conn = granted()
    conn.receive_events(frames(1) + frames(2)[:9], now=T0)
    with pytest.raises(TruncatedFrame):
        conn.receive_eof()
    assert conn.state is ReceiverState.DRAINING


def test_the_deadline_is_an_idle_one_and_waits_for_verdicts() -> None:
    conn = granted()
    conn.receive_events(frames(1), now=T0 + 15)
    assert not conn.timed_out(T0 + 100)  # a verdict is due
    conn.accept(T0 + 16)
    assert not conn.timed_out(T0 + 34)
    assert conn.timed_out(T0 + 35)


def test_author_machine_refused_granted_and_cut_off() -> None:
    refused = PipelinedAuthor(now=T0)
    refused.receive_eof()
    assert refused.state is PipelineState.REFUSED
    author = PipelinedAuthor(now=T0, peer="h:1")
    [ask] = sent(author)
    assert ask == Authenticate(ANONYMOUS_AUTHOR, pipelining=True)
    grant = Authenticate(ANONYMOUS_AUTHOR, HUB, pipelining=True)
    author.receive_data(encode_frame(encode(grant, T0)))
    author.send(packet(1))
    author.send(packet(2))
    assert author.receive_data(encode_frame(encode(Ack("ivo://a.b/c#1", HUB), T0))) == [
        Ack("ivo://a.b/c#1", HUB)
    ]
    with pytest.raises(ClosedWithoutReply, match="1 events without ack or nak") as caught:
        author.receive_eof()
    assert caught.value.ivorn == "ivo://a.b/c#2"


def test_author_machine_rejects_a_reply_that_is_not_the_grant() -> None:
    author = PipelinedAuthor(now=T0, peer="h:1")
    with pytest.raises(UnexpectedMessage, match="did not grant pipelining: got Authenticate"):
        author.receive_data(encode_frame(encode(Authenticate(HUB), T0)))
    assert author.state is PipelineState.FAILED


# --- real sockets -----------------------------------------------------------------------------


class MiniBroker(asyncio.Protocol):
    """A receive port that acks every event, odd IVORNs only (even ones get a nak)."""

    connections = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.conn = ReceiverConnection(local_ivo=HUB, now=time.time(), allow_pipelining=self.allow)
        MiniBroker.connections += 1

    allow = True

    def data_received(self, data: bytes) -> None:
        for event in self.conn.receive_events(data, time.time()):
            if int(event.ivorn.rsplit("#", 1)[1]) % 2:
                self.conn.accept(time.time())
            else:
                self.conn.reject("even", time.time())
        self.transport.write(self.conn.data_to_send())
        if self.conn.closed:
            self.transport.close()

    def eof_received(self) -> bool:
        self.conn.receive_eof()
        if self.conn.closed:
            self.transport.close()
        return True


@pytest.fixture(params=[True, False], ids=["pipelining", "one-shot"])
async def mini_broker(request: pytest.FixtureRequest) -> AsyncIterator[int]:
    MiniBroker.allow, MiniBroker.connections = request.param, 0
    server = await asyncio.get_running_loop().create_server(MiniBroker, "127.0.0.1", 0)
    yield int(server.sockets[0].getsockname()[1])
    server.close()


async def test_publisher_pipelines_where_granted_and_falls_back_elsewhere(mini_broker: int) -> None:
    async with Publisher("127.0.0.1", mini_broker, window=4) as publisher:
        replies = await asyncio.gather(*(publisher.publish(packet(n)) for n in range(1, 11)))
    assert [type(r).__name__ for r in replies] == ["Ack", "Nak"] * 5
    assert [r.ivorn for r in replies] == [f"ivo://a.b/c#{n}" for n in range(1, 11)]
    pipelined = MiniBroker.allow
    assert publisher.pipelined is pipelined
    assert MiniBroker.connections == (1 if pipelined else 11)  # one-shot: the request, then 10


class SilentBroker(asyncio.Protocol):
    """Grants pipelining, then never answers an event."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.conn = ReceiverConnection(local_ivo=HUB, now=time.time(), allow_pipelining=True)

    def data_received(self, data: bytes) -> None:
        self.conn.receive_events(data, time.time())
        self.transport.write(self.conn.data_to_send())


async def test_a_broker_that_stops_answering_times_every_event_out() -> None:
    server = await asyncio.get_running_loop().create_server(SilentBroker, "127.0.0.1", 0)
    port = int(server.sockets[0].getsockname()[1])
    publisher = Publisher("127.0.0.1", port, timeout=0.3)
    replies = await asyncio.gather(
        *(publisher.publish(packet(n)) for n in range(3)), return_exceptions=True
    )
    assert [type(r).__name__ for r in replies] == ["ReplyTimeout"] * 3
    assert "no ack or nak within 0.3 s" in str(replies[0])
    await publisher.aclose()
    server.close()


class DeafBroker(asyncio.Protocol):
    """Plain VTP that ignores any Transport message (the pipelining request among them) and
    acks each VOEvent, one per connection; counts what it was sent."""

    events: ClassVar[list[str]] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.decoder = FrameDecoder()

    def data_received(self, data: bytes) -> None:
        self.decoder.feed(data)
        for payload in self.decoder.frames():
            message = decode(payload)
            if isinstance(message, Authenticate):
                continue
            DeafBroker.events.append(message.ivorn)
            self.transport.write(encode_frame(encode(Ack(message.ivorn, HUB), time.time())))
            self.transport.close()


async def test_a_broker_that_ignores_the_pipelining_request_gets_plain_vtp() -> None:
    DeafBroker.events = []
    async with await asyncio.get_running_loop().create_server(DeafBroker, "127.0.0.1", 0) as server:
        port = int(server.sockets[0].getsockname()[1])
        async with Publisher("127.0.0.1", port, timeout=1.0) as publisher:
            replies = await asyncio.gather(
                *(publisher.publish(packet(n)) for n in (1, 2, 3)), return_exceptions=True
            )
    assert [type(r).__name__ for r in replies] == ["Ack"] * 3
    assert publisher.pipelined is False
    assert DeafBroker.events == [f"ivo://a.b/c#{n}" for n in (1, 2, 3)]

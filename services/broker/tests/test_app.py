"""A whole in-process broker: gRPC Publish/Subscribe, whitelist, slow and dead subscribers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import grpc
import pytest

from vohub.broker.app import BrokerApp
from vohub.common.errors import BindError
from vohub.v1 import broker_pb2, broker_pb2_grpc
from vohub.vtp import Ack, Event, FrameDecoder, IAmAlive, VTPError, decode, encode, encode_frame
from vohub.vtp.client import Publisher, publish, subscribe

from .conftest import GAIA, AppFactory, PacketMaker, wait_for, with_ivorn

Outcome = broker_pb2.PublishResponse


def stub(app: BrokerApp) -> broker_pb2_grpc.BrokerStub:
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{app.ports.grpc}")
    return broker_pb2_grpc.BrokerStub(channel)


async def test_publish_reports_accepted_duplicate_conflict_and_invalid(
    app_factory: AppFactory, packet: PacketMaker
) -> None:
    app = await app_factory()
    broker = stub(app)
    first = await broker.Publish(broker_pb2.PublishRequest(xml=packet(1), publisher="t"))
    again = await broker.Publish(broker_pb2.PublishRequest(xml=packet(1)))
    other = await broker.Publish(broker_pb2.PublishRequest(xml=packet(1).replace(b"  ", b" ", 1)))
    junk = await broker.Publish(broker_pb2.PublishRequest(xml=b"<VOEvent"))
    assert (first.outcome, first.ivorn) == (Outcome.ACCEPTED, "ivo://vohub.test/unit#test-1")
    assert (again.outcome, again.reason) == (Outcome.DUPLICATE, "Previously seen by this broker")
    assert other.outcome == Outcome.REJECTED
    assert "IVORN ivo://vohub.test/unit#test-1 was already seen with different content" in (
        other.reason
    )
    assert junk.outcome == Outcome.REJECTED
    assert "not well-formed XML" in junk.reason
    assert app.metrics.value("vohub_broker_rejected_total", path="grpc", reason="conflict") == 1


async def test_publish_refuses_packets_over_the_cap(app_factory: AppFactory) -> None:
    app = await app_factory(max_inbound_bytes=200_000)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub(app).Publish(broker_pb2.PublishRequest(xml=b"<x/>" * 60_000))
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "exceeds the limit of 200000 bytes" in (caught.value.details() or "")


async def test_subscribe_filters_by_stream_role_and_xpath(
    app_factory: AppFactory, packet: PacketMaker
) -> None:
    app = await app_factory()
    broker = stub(app)
    gaia = with_ivorn(GAIA.read_bytes(), "ivo://vohub.test/gaia#g1")
    request = broker_pb2.SubscribeRequest(
        roles=["observation"], xpath=["//Param[@name='Packet_Type' and @value='61']"]
    )
    by_xpath = broker.Subscribe(request)
    by_stream = broker.Subscribe(broker_pb2.SubscribeRequest(streams=["vohub.test/gaia"]))
    await wait_for(lambda: len(app.fanout.sinks) == 2)
    for xml in (gaia, packet(1)):
        assert (await broker.Publish(broker_pb2.PublishRequest(xml=xml))).outcome == 1
    first = await by_xpath.read()
    assert (first.ivorn, first.xml, first.role) == (
        "ivo://vohub.test/unit#test-1",
        packet(1),
        "observation",
    )
    gaia_event = await by_stream.read()
    assert (gaia_event.ivorn, gaia_event.stream) == ("ivo://vohub.test/gaia#g1", "vohub.test/gaia")
    by_xpath.cancel()
    by_stream.cancel()


async def test_subscribe_refuses_a_bad_xpath_naming_it(app_factory: AppFactory) -> None:
    app = await app_factory()
    call = stub(app).Subscribe(broker_pb2.SubscribeRequest(xpath=["//Why", "//[bad"]))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call.read()
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "'//[bad'" in (caught.value.details() or "")


async def test_subscribe_refuses_an_unknown_role_and_takes_a_stream_as_an_ivorn(
    app_factory: AppFactory, packet: PacketMaker
) -> None:
    """Filters that could never match streamed nothing, without a word."""
    app = await app_factory()
    broker = stub(app)
    call = broker.Subscribe(broker_pb2.SubscribeRequest(roles=["observation", "bogus"]))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call.read()
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (caught.value.details() or "").startswith("roles: unknown role 'bogus'")
    by_ivorn = broker.Subscribe(broker_pb2.SubscribeRequest(streams=["ivo://vohub.test/unit"]))
    await wait_for(lambda: len(app.fanout.sinks) == 1)
    assert (await broker.Publish(broker_pb2.PublishRequest(xml=packet(1)))).outcome == 1
    assert (await by_ivorn.read()).ivorn == "ivo://vohub.test/unit#test-1"
    by_ivorn.cancel()


async def test_the_spool_depth_gauge_returns_to_zero_without_an_archive(
    app_factory: AppFactory, packet: PacketMaker
) -> None:
    """/healthz said 0 while /metrics kept the depth of the last durable batch."""
    app = await app_factory()
    for number in range(3):
        await stub(app).Publish(broker_pb2.PublishRequest(xml=packet(number)))
    await wait_for(lambda: app.spool.depth == 0)
    await wait_for(lambda: app.metrics.value("vohub_broker_spool_depth") == 0, deadline=5)


async def test_a_publisher_name_is_logged_beside_its_address(
    app_factory: AppFactory, packet: PacketMaker, caplog: pytest.LogCaptureFixture
) -> None:
    """The name is the client's to choose: logged alone, it could pass for another address."""
    app = await app_factory()
    with caplog.at_level(logging.INFO):
        await stub(app).Publish(broker_pb2.PublishRequest(xml=packet(1), publisher="127.0.0.9"))
    [accepted] = [r for r in caplog.records if r.getMessage() == "packet.accepted"]
    assert accepted.vohub_fields["peer"].startswith("127.0.0.9@ipv4:127.0.0.1:")


async def test_an_author_outside_the_whitelist_is_closed_at_connect_before_a_byte_is_read(
    app_factory: AppFactory, packet: PacketMaker, caplog: pytest.LogCaptureFixture
) -> None:
    """It was read up to a whole frame (1 MiB), parsed, then nak'd: each connection from
    outside the whitelist could make the broker hold 1 MiB until the author timeout."""
    app = await app_factory(author_whitelist=["127.0.0.1/32"], author_timeout=120)
    with caplog.at_level(logging.WARNING, logger="vohub.broker.author"):
        for _ in range(3):
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", app.ports.receive, local_addr=("127.0.0.2", 0)
            )
            try:
                writer.write((1 << 20).to_bytes(4, "big") + b"<" * 65536)  # a 1 MiB frame begun
                with contextlib.suppress(ConnectionResetError):
                    assert await asyncio.wait_for(reader.read(), 10) == b""
            finally:
                writer.close()
    refused = [r for r in caplog.records if r.getMessage() == "author.refused"]
    assert [r.vohub_fields["peer"].split(":")[0] for r in refused] == ["127.0.0.2"] * 3
    reply = await publish("127.0.0.1", app.ports.receive, packet(1))  # inside: as ever
    assert isinstance(reply, Ack)


async def test_a_grpc_publisher_outside_the_whitelist_gets_its_packet_refused_naming_it(
    app_factory: AppFactory, packet: PacketMaker
) -> None:
    app = await app_factory(author_whitelist=["10.0.0.0/8"])
    reply = await stub(app).Publish(broker_pb2.PublishRequest(xml=packet(1)))
    assert reply.outcome == Outcome.REJECTED
    assert reply.reason == "author 127.0.0.1 is not in the author whitelist"
    assert app.metrics.value("vohub_broker_rejected_total", path="grpc", reason="whitelist") == 1


RawOpener = Callable[..., Coroutine[Any, Any, tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


@pytest.fixture
async def raw_subscriber() -> AsyncIterator[RawOpener]:
    """``await raw_subscriber(port, rcvbuf=None)``: a bare socket; all closed at teardown."""
    writers: list[asyncio.StreamWriter] = []

    async def connect(
        port: int, *, rcvbuf: int | None = None
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writers.append(writer)
        if rcvbuf is not None:
            writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        return reader, writer

    yield connect
    for writer in writers:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def test_a_stuck_subscriber_is_dropped_and_the_others_get_everything(
    app_factory: AppFactory, packet: PacketMaker, raw_subscriber: RawOpener
) -> None:
    app = await app_factory(subscriber_queue_bytes=100_000, iamalive_interval=60)
    await raw_subscriber(app.ports.broadcast, rcvbuf=16384)  # never reads
    got: list[str] = []
    sub = subscribe("127.0.0.1", app.ports.broadcast, local_ivo="ivo://vohub.test/fast")

    async def follow() -> None:
        async for event in sub:
            got.append(event.ivorn)

    task = asyncio.create_task(follow())
    await wait_for(lambda: len(app.fanout.sinks) == 2)
    broker = stub(app)
    padding = b"<How><Description>" + b"x" * 80_000 + b"</Description>"
    for i in range(150):  # 12 MB: more than the kernel buffers hold
        xml = packet(i).replace(b"<How>", padding)
        await broker.Publish(broker_pb2.PublishRequest(xml=xml))
    await wait_for(lambda: len(got) == 150)
    assert got == [f"ivo://vohub.test/unit#test-{i}" for i in range(150)]
    assert app.metrics.value("vohub_broker_subscribers_dropped_total", reason="queue") == 1
    assert app.metrics.value("vohub_broker_subscribers", kind="vtp") == 1
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await sub.aclose()


async def test_a_silent_subscriber_is_dropped_at_the_second_tick(
    app_factory: AppFactory, raw_subscriber: RawOpener
) -> None:
    app = await app_factory(iamalive_interval=0.2)
    reader, _ = await raw_subscriber(app.ports.broadcast)
    decoder = FrameDecoder()
    while not reader.at_eof():
        decoder.feed(await reader.read(65536))
    kinds = [type(decode(frame)).__name__ for frame in decoder]
    assert kinds == ["Authenticate", "IAmAlive"]
    assert app.metrics.value("vohub_broker_subscribers_dropped_total", reason="dead") == 1


async def test_a_subscriber_that_answers_stays_across_ticks(
    app_factory: AppFactory, raw_subscriber: RawOpener
) -> None:
    app = await app_factory(iamalive_interval=0.1)
    reader, writer = await raw_subscriber(app.ports.broadcast)
    decoder, pings = FrameDecoder(), 0
    while pings < 6:
        decoder.feed(await asyncio.wait_for(reader.read(65536), 5))
        for frame in decoder:
            message = decode(frame)
            if isinstance(message, IAmAlive):
                pings += 1
                reply = IAmAlive(message.origin, "ivo://vohub.test/raw")
                writer.write(encode_frame(encode(reply, 0.0)))
    assert app.metrics.value("vohub_broker_subscriber_replies_total", role="iamalive") >= 5
    assert app.metrics.value("vohub_broker_subscribers_dropped_total", reason="dead") == 0


@pytest.mark.parametrize("relay", ["accepted", "durable"])
async def test_oversize_packets_reach_grpc_but_skip_vtp_subscribers(
    app_factory: AppFactory, packet: PacketMaker, relay: str
) -> None:
    app = await app_factory(relay=relay)
    big = packet(1).replace(b"<How>", b"<How><Description>" + b"x" * 120_000 + b"</Description>")
    assert len(big) > 99_999
    grpc_sub = stub(app).Subscribe(broker_pb2.SubscribeRequest())
    got: list[str] = []
    sub = subscribe("127.0.0.1", app.ports.broadcast)

    async def follow() -> None:
        async for event in sub:
            got.append(event.ivorn)

    task = asyncio.create_task(follow())
    await wait_for(lambda: len(app.fanout.sinks) == 2)
    reply = await publish("127.0.0.1", app.ports.receive, big, max_send_size=1 << 20)
    assert type(reply).__name__ == "Ack"
    assert (await grpc_sub.read()).xml == big
    await publish("127.0.0.1", app.ports.receive, packet(2))
    await wait_for(lambda: got == ["ivo://vohub.test/unit#test-2"])
    assert app.metrics.value("vohub_broker_oversize_skipped_total") == 1
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await sub.aclose()
    grpc_sub.cancel()


@pytest.mark.parametrize(
    "settings", [{"max_missed_acks": 2}, {"ack_timeout": 0.05}], ids=["missed", "timeout"]
)
async def test_a_subscriber_that_reads_but_never_acks_is_dropped(
    app_factory: AppFactory,
    packet: PacketMaker,
    settings: dict[str, float],
    raw_subscriber: RawOpener,
) -> None:
    app = await app_factory(iamalive_interval=0.2, **settings)
    reader, writer = await raw_subscriber(app.ports.broadcast)
    decoder, events = FrameDecoder(), 0
    await wait_for(lambda: len(app.fanout.sinks) == 1)
    broker = stub(app)  # both at once: a tick between them could drop it after the first
    requests = [broker_pb2.PublishRequest(xml=packet(i)) for i in (0, 1)]
    await asyncio.gather(*(broker.Publish(request) for request in requests))
    while not reader.at_eof():  # answer every iamalive, ack nothing
        decoder.feed(await asyncio.wait_for(reader.read(65536), 5))
        for frame in decoder:
            message = decode(frame)
            if isinstance(message, IAmAlive):
                writer.write(encode_frame(encode(IAmAlive(message.origin, "ivo://t/s"), 0.0)))
            elif type(message).__name__ == "Event":
                events += 1
    assert events == 2
    assert app.metrics.value("vohub_broker_subscribers_dropped_total", reason="acknowledging") == 1


async def test_a_subscriber_that_skips_one_ack_is_kept(
    app_factory: AppFactory, packet: PacketMaker, raw_subscriber: RawOpener
) -> None:
    """An ack that will never come counts against max_missed_acks, not ack_timeout: a peer
    that skips an odd one (a packet it cannot read) stays, long past ack_timeout."""
    app = await app_factory(iamalive_interval=0.1, ack_timeout=0.3)
    reader, writer = await raw_subscriber(app.ports.broadcast)
    decoder, events = FrameDecoder(), []
    await wait_for(lambda: len(app.fanout.sinks) == 1)
    broker = stub(app)
    await broker.Publish(broker_pb2.PublishRequest(xml=packet(0)))
    loop = asyncio.get_running_loop()
    later = loop.time() + 1.0  # ten ticks, three ack timeouts
    while len(events) < 2:
        data = await asyncio.wait_for(reader.read(65536), 5)
        assert data, f"dropped after {events}"
        decoder.feed(data)
        for frame in decoder:
            message = decode(frame)
            if isinstance(message, IAmAlive):
                writer.write(encode_frame(encode(IAmAlive(message.origin, "ivo://t/s"), 0.0)))
            elif isinstance(message, Event):
                events.append(message.ivorn)
                if len(events) > 1:  # the first is never acked
                    writer.write(encode_frame(encode(Ack(message.ivorn, "ivo://t/s"), 0.0)))
        if len(events) == 1 and loop.time() > later:
            later = float("inf")
            await broker.Publish(broker_pb2.PublishRequest(xml=packet(1)))
    assert events == ["ivo://vohub.test/unit#test-0", "ivo://vohub.test/unit#test-1"]
    assert app.metrics.value("vohub_broker_subscribers_dropped_total", reason="acknowledging") == 0


async def test_a_stop_takes_no_packet_its_subscribers_would_miss(
    app_factory: AppFactory, packet: PacketMaker, raw_subscriber: RawOpener
) -> None:
    """A stop (SIGTERM) hung up on subscribers while authors' connections stayed open: packets
    taken after that were acknowledged and reached no subscriber."""
    app = await app_factory()
    reader, _ = await raw_subscriber(app.ports.broadcast)
    await wait_for(lambda: len(app.fanout.sinks) == 1)
    acked: list[str] = []

    async def author() -> None:
        with contextlib.suppress(VTPError):
            async with Publisher("127.0.0.1", app.ports.receive, window=8, timeout=5) as sender:
                for number in range(5000):
                    reply = await sender.publish(packet(number))
                    if isinstance(reply, Ack):
                        acked.append(reply.ivorn)

    sending = asyncio.create_task(author())
    await wait_for(lambda: len(acked) >= 50)
    stopping = asyncio.create_task(app.stop(grace=5))
    decoder, relayed = FrameDecoder(), set()
    while data := await asyncio.wait_for(reader.read(65536), 10):
        decoder.feed(data)
        relayed |= {m.ivorn for m in map(decode, decoder) if isinstance(m, Event)}
    await stopping
    await sending
    assert len(acked) < 5000
    assert set(acked) <= relayed


async def test_a_subscriber_outside_the_whitelist_is_closed_without_a_byte(
    app_factory: AppFactory, raw_subscriber: RawOpener
) -> None:
    app = await app_factory(subscriber_whitelist=["10.0.0.0/8"])
    reader, _ = await raw_subscriber(app.ports.broadcast)
    assert await asyncio.wait_for(reader.read(), 5) == b""
    assert len(app.fanout.sinks) == 0


async def test_a_grpc_port_in_use_fails_the_start(app_factory: AppFactory) -> None:
    first = await app_factory()
    taken = f"127.0.0.1:{first.ports.grpc}"
    with pytest.raises(BindError, match=f"^{taken}: cannot listen here"):
        await app_factory(grpc=taken)

"""The asyncio client against a real Comet 3.1.0 broker on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from vohub.testing.comet_broker import CometBroker
from vohub.testing.fixtures import CometFactory
from vohub.testing.ports import free_port
from vohub.vtp.backoff import Backoff
from vohub.vtp.client import Publisher, Subscription, publish, subscribe
from vohub.vtp.errors import ClosedWithoutReply, OutgoingFrameTooLarge
from vohub.vtp.messages import Ack, Event, Nak

pytestmark = pytest.mark.interop

DATA = Path(__file__).resolve().parents[3] / "data" / "voevents"
BAT_IVORN = "ivo://nasa.gsfc.gcn/SWIFT#BAT_GRB_Pos_558756-820"
PACKET_61 = "//Param[@name='Packet_Type' and @value='61']"
FAST = Backoff(initial=0.05, factor=2.0, maximum=0.5, jitter=0.0)


def packet(name: str) -> bytes:
    [path] = DATA.rglob(name)
    return path.read_bytes()


def padded(data: bytes, size: int) -> bytes:
    """The same VOEvent padded with a trailing XML comment to exactly ``size`` bytes."""
    head = data.rstrip() + b"\n<!--"
    return head + b"x" * (size - len(head) - 4) + b"-->\n"


@contextlib.asynccontextmanager
async def following(sub: Subscription) -> AsyncIterator[asyncio.Queue[Event]]:
    """Consume ``sub`` into a queue in the background until the block ends."""
    queue: asyncio.Queue[Event] = asyncio.Queue()

    async def pump() -> None:
        async for event in sub:
            queue.put_nowait(event)

    task = asyncio.create_task(pump())
    try:
        await asyncio.wait_for(sub.ready.wait(), 10)
        yield queue
    finally:
        await sub.aclose()
        await task


async def eventually(condition: Callable[[], bool], seconds: float = 15.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"condition not met within {seconds} s")


async def take(queue: asyncio.Queue[Event], n: int) -> list[Event]:
    return [await asyncio.wait_for(queue.get(), 10) for _ in range(n)]


async def test_publish_acked_then_duplicate_naked(comet: CometBroker, bat_packet: bytes) -> None:
    assert await publish(*comet.receive_address, bat_packet) == Ack(BAT_IVORN, comet.local_ivo)
    reply = await publish(*comet.receive_address, bat_packet)
    assert reply == Nak(
        BAT_IVORN, comet.local_ivo, "Event rejected: Previously seen by this broker"
    )


async def test_publisher_falls_back_to_a_connection_per_event_with_comet(
    comet: CometBroker, bat_packet: bytes, gaia_packet: bytes
) -> None:
    async with Publisher(*comet.receive_address) as publisher:
        replies = [await publisher.publish(p) for p in (bat_packet, gaia_packet, bat_packet)]
    assert publisher.pipelined is False  # Comet hung up on the request, with no reply
    assert [type(r).__name__ for r in replies] == ["Ack", "Ack", "Nak"]
    assert replies[2] == Nak(
        BAT_IVORN, comet.local_ivo, "Event rejected: Previously seen by this broker"
    )
    comet.wait_for_log("Incomprehensible data")


async def test_publish_voevent_2_1_is_naked_with_schema_reason(comet: CometBroker) -> None:
    reply = await publish(*comet.receive_address, packet("voevent-ex1.xml"))
    assert isinstance(reply, Nak)
    assert reply.ivorn == "ivo://raptor.lanl/VOEvent#235649409"
    assert reply.reason is not None
    assert "No matching global declaration" in reply.reason


async def test_comet_frame_limit_is_99999_bytes(comet: CometBroker, bat_packet: bytes) -> None:
    largest = padded(bat_packet, 99_999)
    assert isinstance(await publish(*comet.receive_address, largest), Ack)
    too_big = padded(packet("BAT_GRB_Pos_570069-383.xml"), 100_000)
    with pytest.raises(OutgoingFrameTooLarge):  # by default we never send it
        await publish(*comet.receive_address, too_big)
    with pytest.raises(ClosedWithoutReply) as caught:  # forced: Comet hangs up, no nak
        await publish(*comet.receive_address, too_big, max_send_size=100_000)
    assert "ivo://nasa.gsfc.gcn/SWIFT#BAT_GRB_Pos_570069-383" in str(caught.value)
    comet.wait_for_log("Length limit exceeded (100000 bytes)")


async def test_subscriber_receives_the_exact_bytes_authors_sent(
    comet: CometBroker, bat_packet: bytes, gaia_packet: bytes
) -> None:
    sub = subscribe(*comet.broadcast_address, local_ivo="ivo://vohub.test/listener")
    async with following(sub) as events:
        for data in (bat_packet, gaia_packet):
            assert isinstance(await publish(*comet.receive_address, data), Ack)
        got = await take(events, 2)
    assert [e.raw for e in got] == [bat_packet, gaia_packet]
    assert sub.connections == 1
    comet.wait_for_log("Ack received from")


async def test_subscriber_filters_are_applied_by_comet(
    comet: CometBroker, bat_packet: bytes, gaia_packet: bytes
) -> None:
    sub = subscribe(*comet.broadcast_address, filters=[PACKET_61], local_ivo="ivo://vohub.test/f")
    other_bats = [packet("BAT_GRB_Pos_570069-383.xml"), packet("BAT_GRB_Pos_707545-520.xml")]
    async with following(sub) as events:
        for data in (gaia_packet, bat_packet, other_bats[0]):
            assert isinstance(await publish(*comet.receive_address, data), Ack)
        first = await take(events, 2)
        assert isinstance(await publish(*comet.receive_address, other_bats[1]), Ack)
        last = await take(events, 1)
    assert {e.raw for e in first} == {bat_packet, other_bats[0]}
    assert [e.raw for e in last] == [other_bats[1]]
    comet.wait_for_log(f"Installing filter {PACKET_61}")


async def test_subscriber_reconnects_after_silence(comet: CometBroker, bat_packet: bytes) -> None:
    sub = subscribe(*comet.broadcast_address, idle_timeout=0.3, backoff=FAST)
    async with following(sub) as events:
        await eventually(lambda: sub.connections >= 2)
        await asyncio.wait_for(sub.ready.wait(), 10)
        assert isinstance(await publish(*comet.receive_address, bat_packet), Ack)
        [event] = await take(events, 1)
    assert event.raw == bat_packet


async def test_subscriber_waits_for_a_broker_that_is_not_up_yet(
    comet_factory: CometFactory, bat_packet: bytes
) -> None:
    port = free_port()
    sub = subscribe("127.0.0.1", port, backoff=FAST)
    sub.start()
    await asyncio.sleep(0.3)
    assert sub.connections == 0
    comet = await asyncio.to_thread(comet_factory, broadcast_port=port)
    async with following(sub) as events:
        assert isinstance(await publish(*comet.receive_address, bat_packet), Ack)
        [event] = await take(events, 1)
    assert event.raw == bat_packet


@pytest.mark.slow
@pytest.mark.asyncio(loop_factories=["uvloop"])  # a minute of waiting for Comet: one loop will do
async def test_subscriber_answers_comet_iamalive_and_stays_connected(
    comet: CometBroker, bat_packet: bytes
) -> None:
    # Comet pings every 60 s from start-up and drops a subscriber whose previous ping went
    # unanswered; this test waits for one ping, Comet's record of our reply, then an event.
    sub = subscribe(*comet.broadcast_address, local_ivo="ivo://vohub.test/alive")
    async with following(sub) as events:
        await eventually(lambda: sub.iamalives > 0, seconds=75.0)
        await asyncio.to_thread(comet.wait_for_log, "IAmAlive received from", 10.0)
        assert isinstance(await publish(*comet.receive_address, bat_packet), Ack)
        [event] = await take(events, 1)
    assert event.raw == bat_packet
    assert sub.connections == 1
    assert "Peer appears to be dead" not in comet.log()


async def test_aclose_from_another_task_ends_a_pending_iteration(comet: CometBroker) -> None:
    sub = subscribe(*comet.broadcast_address)
    waiting = asyncio.create_task(anext(sub))
    await asyncio.wait_for(sub.ready.wait(), 10)
    await sub.aclose()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(waiting, 5)
    comet.wait_for_log("disconnected")


async def test_cancelling_the_consumer_then_closing_is_clean(comet: CometBroker) -> None:
    sub = subscribe(*comet.broadcast_address)

    async def consume() -> None:
        async with sub:
            async for _ in sub:
                pass

    task = asyncio.create_task(consume())
    await asyncio.wait_for(sub.ready.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    comet.wait_for_log("disconnected")

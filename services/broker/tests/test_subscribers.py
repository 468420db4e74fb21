"""The broadcast port: what a misbehaving VTP subscriber sends, and what the broker makes of it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import pytest

from vohub.broker.app import BrokerApp
from vohub.vtp import Ack, Authenticate, Event, FrameDecoder, decode, encode, encode_frame
from vohub.vtp.client import Publisher

from .conftest import RUNAWAY, AppFactory, PacketMaker, wait_for

LOGGER = "vohub.broker.subscriber"


@pytest.fixture
async def app(app_factory: AppFactory) -> BrokerApp:
    return await app_factory(iamalive_interval=60)


@pytest.fixture
async def subscriber(app: BrokerApp) -> AsyncIterator[asyncio.StreamWriter]:
    """A raw connection to the broadcast port, registered as a subscriber."""
    _, writer = await asyncio.open_connection("127.0.0.1", app.ports.broadcast)
    await wait_for(lambda: len(app.fanout.sinks) == 1)
    yield writer
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


async def logged_after(
    writer: asyncio.StreamWriter, data: bytes, caplog: pytest.LogCaptureFixture
) -> list[logging.LogRecord]:
    """Send ``data`` as a subscriber; the broker's subscriber log lines that follow."""
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        writer.write(data)
        await writer.drain()
        with contextlib.suppress(TimeoutError):
            await wait_for(lambda: any(r.name == LOGGER for r in caplog.records), deadline=3)
        await asyncio.sleep(0.1)  # anything else it would log
    return [r for r in caplog.records if r.name == LOGGER]


async def test_garbage_from_a_subscriber_is_ignored_but_logged_once(
    app: BrokerApp,
    subscriber: asyncio.StreamWriter,
    packet: PacketMaker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Comet logs what it cannot read; vohub ignored it without a word."""
    data = encode_frame(b"hello") + encode_frame(b"<not closed") + encode_frame(packet(1))
    logged = await logged_after(subscriber, data, caplog)
    assert [r.getMessage() for r in logged] == ["subscriber.unreadable"]
    assert logged[0].vohub_fields["peer"].startswith("127.0.0.1:")
    assert "XML" in logged[0].vohub_fields["error"]
    assert app.metrics.value("vohub_broker_subscribers_dropped_total", reason="protocol") == 0
    assert len(app.fanout.sinks) == 1  # ignored: still a subscriber


async def test_a_voevent_from_a_subscriber_is_logged_with_its_ivorn(
    app: BrokerApp,
    subscriber: asyncio.StreamWriter,
    packet: PacketMaker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    logged = await logged_after(subscriber, encode_frame(packet(7)), caplog)
    assert [r.getMessage() for r in logged] == ["subscriber.unexpected"]
    assert logged[0].vohub_fields["ivorn"] == "ivo://vohub.test/unit#test-7"
    assert app.metrics.value("vohub_broker_received_total", path="author") == 0


async def test_a_stop_still_relays_acknowledged_packets_to_filtered_subscribers(
    app_factory: AppFactory, packet: PacketMaker
) -> None:
    """Packets for a subscriber with a filter wait for the filter sandbox; a stop hung up on
    that subscriber first, so the packets acknowledged just before it never reached it."""
    app = await app_factory(iamalive_interval=60)
    reader, writer = await asyncio.open_connection("127.0.0.1", app.ports.broadcast)
    try:
        slow = "count(//*[count(//*[count(//*) > 0]) > 0]) > 0"  # matches, in some 20 ms
        hello = Authenticate("ivo://vohub.test/raw", "ivo://vohub.test/unit", (slow,))
        writer.write(encode_frame(encode(hello, 0.0)))
        await wait_for(lambda: bool(app.fanout._filtered))
        async with Publisher("127.0.0.1", app.ports.receive, window=32, timeout=5) as sender:
            replies = await asyncio.gather(*(sender.publish(packet(n)) for n in range(20)))
        acked = [reply.ivorn for reply in replies if isinstance(reply, Ack)]
        assert len(acked) == 20
        stopping = asyncio.create_task(app.stop(grace=5))
        decoder, relayed = FrameDecoder(), set[str]()
        while data := await asyncio.wait_for(reader.read(65536), 10):
            decoder.feed(data)
            relayed |= {m.ivorn for m in map(decode, decoder) if isinstance(m, Event)}
        await stopping
        assert set(acked) <= relayed
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def test_a_subscriber_dropped_for_its_filter_is_logged_with_its_filters_as_a_list(
    app_factory: AppFactory, packet: PacketMaker, caplog: pytest.LogCaptureFixture
) -> None:
    """The reason quoted the filters as a Python tuple, ``('//Who',)``, unlike the
    ``subscriber.filters`` line's list."""
    app = await app_factory(iamalive_interval=60, filter_timeout=0.3)
    _, writer = await asyncio.open_connection("127.0.0.1", app.ports.broadcast)
    try:
        hello = Authenticate("ivo://vohub.test/raw", "ivo://vohub.test/unit", (RUNAWAY,))
        with caplog.at_level(logging.INFO, logger=LOGGER):
            writer.write(encode_frame(encode(hello, 0.0)))
            await wait_for(lambda: bool(app.fanout._filtered))
            async with Publisher("127.0.0.1", app.ports.receive, timeout=5) as sender:
                assert isinstance(await sender.publish(packet(1)), Ack)
            await wait_for(lambda: any(_named(r, "subscriber.dropped") for r in caplog.records))
        [listed] = [r for r in caplog.records if _named(r, "subscriber.filters")]
        [dropped] = [r for r in caplog.records if _named(r, "subscriber.dropped")]
        assert listed.vohub_fields["filters"] == [RUNAWAY]
        assert dropped.vohub_fields["reason"] == f"filter exceeded its 0.3 s budget: {[RUNAWAY]}"
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


def _named(record: logging.LogRecord, event: str) -> bool:
    return record.name == LOGGER and record.getMessage() == event


async def test_a_duplicate_from_an_upstream_is_counted_and_logged_at_debug_level_only(
    app_factory: AppFactory, packet: PacketMaker, caplog: pytest.LogCaptureFixture
) -> None:
    """In a mesh every packet comes back from the other brokers: an info line for each was
    noise. An author's duplicate is still logged at info."""
    upstream = await app_factory(iamalive_interval=60)
    follower = await app_factory(
        iamalive_interval=60, remote=[f"127.0.0.1:{upstream.ports.broadcast}"]
    )
    await wait_for(lambda: len(upstream.fanout.sinks) == 1)  # the follower has subscribed
    caplog.set_level(logging.DEBUG, logger="vohub.broker.packet")
    for app in (follower, upstream, follower):  # the follower sees it from its author first
        async with Publisher("127.0.0.1", app.ports.receive) as publisher:
            await publisher.publish(packet(1))
    metric = "vohub_broker_rejected_total"
    await wait_for(lambda: follower.metrics.value(metric, path="upstream", reason="duplicate") == 1)
    refused = [(r.levelname, r.vohub_fields["path"]) for r in caplog.records
               if r.getMessage() == "packet.refused"]  # fmt: skip
    assert sorted(refused) == [("DEBUG", "upstream"), ("INFO", "author")]

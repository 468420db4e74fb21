"""The receive port: Comet's one event per connection, and vohub's opt-in pipelining."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest
from prometheus_client import generate_latest

from vohub.vtp import Ack, Authenticate, FrameDecoder, Message, Nak, decode, encode, encode_frame
from vohub.vtp.client import Publisher, subscribe

from .conftest import AppFactory, PacketMaker, wait_for

ASK = encode_frame(encode(Authenticate("ivo://vohub.test/author", pipelining=True), 0.0))


@pytest.fixture(params=[0, 1], ids=["in-process", "judge-process"])
def judge_workers(request: pytest.FixtureRequest) -> int:
    """Every test here runs with the parse and XSD check in the broker, then in a judge."""
    return int(request.param)


async def exchange(port: int, data: bytes, *, half_close: bool = True) -> list[Message]:
    """Write ``data`` on a raw connection and read every frame until the broker closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    if half_close:
        writer.write_eof()
    decoder = FrameDecoder()
    decoder.feed(await asyncio.wait_for(reader.read(), 10))  # until EOF: the broker closed
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return [decode(frame) for frame in decoder]


async def test_a_plain_author_gets_one_ack_and_the_broker_closes(
    app_factory: AppFactory, packet: PacketMaker, caplog: pytest.LogCaptureFixture
) -> None:
    app = await app_factory()
    with caplog.at_level(logging.WARNING, logger="vohub.broker.author"):
        got = await exchange(app.ports.receive, encode_frame(packet(1)), half_close=False)
    assert got == [Ack("ivo://vohub.test/unit#test-1", "ivo://vohub.test/unit")]
    assert [r.getMessage() for r in caplog.records if r.name == "vohub.broker.author"] == []


async def test_a_second_event_without_the_opt_in_is_ignored_as_comet_would(
    app_factory: AppFactory, packet: PacketMaker
) -> None:
    app = await app_factory()
    got = await exchange(app.ports.receive, encode_frame(packet(1)) + encode_frame(packet(2)))
    assert [type(m).__name__ for m in got] == ["Ack"]
    assert app.metrics.value("vohub_broker_accepted_total", path="author") == 1


async def test_a_second_event_without_the_opt_in_is_logged_with_its_peer_and_ivorn(
    app_factory: AppFactory, packet: PacketMaker, caplog: pytest.LogCaptureFixture
) -> None:
    """It was dropped without a word: an operator could not tell an event had been lost."""
    app = await app_factory()
    second = encode_frame(packet(2))
    with caplog.at_level(logging.WARNING, logger="vohub.broker.author"):
        reader, writer = await asyncio.open_connection("127.0.0.1", app.ports.receive)
        host, port = writer.get_extra_info("sockname")[:2]
        writer.write(encode_frame(packet(1)) + second)
        writer.write_eof()
        decoder = FrameDecoder()
        decoder.feed(await asyncio.wait_for(reader.read(), 10))  # until the broker closes
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    assert [type(decode(frame)).__name__ for frame in decoder] == ["Ack"]
    [ignored] = [r for r in caplog.records if r.getMessage() == "author.ignored"]
    assert ignored.levelno == logging.WARNING
    assert ignored.vohub_fields == {
        "peer": f"{host}:{port}",
        "first_ivorn": "ivo://vohub.test/unit#test-1",
        "bytes": len(second),
        "frame_size": len(second) - 4,
        "ivorn": "ivo://vohub.test/unit#test-2",
    }


async def test_an_event_is_acked_and_deduplicated_under_the_ivorn_it_really_has(
    app_factory: AppFactory, packet: PacketMaker
) -> None:
    """A '>' inside an attribute value hid the rest of the root tag from the head reader: with
    a judge, a schema-valid packet was acked, deduplicated and logged under an IVORN written
    in that value (Comet acks the real one), so a second copy passed as new."""
    app = await app_factory()
    schema = (
        b"http://www.ivoa.net/xml/VOEvent/v2.0  http://www.ivoa.net/xml/VOEvent/VOEvent-v2.0.xsd"
    )
    location = b' xsi:schemaLocation="%s"' % schema
    real = "ivo://vohub.test/unit#test-1"
    replies: list[Message] = []
    for n in (1, 2):
        decoy = b"%s ivorn='ivo://vohub.test/unit#decoy-%d' role='test' >" % (schema, n)
        first = b'<voe:VOEvent xsi:schemaLocation="%s"' % decoy  # before the real attributes
        tricky = packet(1).replace(location, b"", 1).replace(b"<voe:VOEvent", first, 1)
        replies += await exchange(app.ports.receive, encode_frame(tricky))
    ack, nak = replies
    assert ack == Ack(real, "ivo://vohub.test/unit")
    assert isinstance(nak, Nak)
    assert nak.ivorn == real
    assert f"IVORN {real} was already seen" in (nak.reason or "")


async def test_an_event_with_an_empty_ivorn_gets_a_nak_as_comet_gives(
    app_factory: AppFactory, packet: PacketMaker
) -> None:
    """It was taken for a VOEvent without an ivorn attribute: the broker closed without a
    reply, and the author never learnt why."""
    app = await app_factory()
    empty = packet(1).replace(b'ivorn="ivo://vohub.test/unit#test-1"', b'ivorn=""', 1)
    [nak] = await exchange(app.ports.receive, encode_frame(empty))
    assert isinstance(nak, Nak)
    assert (nak.ivorn, nak.response) == ("", "ivo://vohub.test/unit")
    assert (nak.reason or "").startswith("Event rejected: invalid IVORN: ")


@pytest.mark.parametrize("validation", ["strict", "lenient"])
async def test_an_event_whose_root_is_not_voevent_gets_a_nak_naming_the_root(
    app_factory: AppFactory, packet: PacketMaker, validation: str
) -> None:
    """Comet reads any root with a VOEvent role as an event and naks it for its schema; the
    broker closed without a reply, and the author never learnt why."""
    app = await app_factory(validation=validation)
    alert = packet(1).replace(b"voe:VOEvent", b"voe:Alert")
    reason = "Event rejected: not a VOEvent: root element is <Alert>, not <VOEvent>"
    [nak] = await exchange(app.ports.receive, encode_frame(alert))
    assert nak == Nak("ivo://vohub.test/unit#test-1", "ivo://vohub.test/unit", reason)
    data = ASK + encode_frame(packet(2)) + encode_frame(alert)
    [_, ack, nak] = await exchange(app.ports.receive, data)
    assert (type(ack), type(nak), nak.reason) == (Ack, Nak, reason)
    assert app.metrics.value("vohub_broker_accepted_total", path="author") == 1


async def test_pipelined_events_are_answered_in_order_and_relayed_in_order(
    app_factory: AppFactory, packet: PacketMaker
) -> None:
    app = await app_factory()
    sub = subscribe("127.0.0.1", app.ports.broadcast)
    got: list[str] = []

    async def follow() -> None:
        async for event in sub:
            got.append(event.ivorn)

    task = asyncio.create_task(follow())
    await wait_for(lambda: len(app.fanout.sinks) == 1)
    packets = [packet(i) for i in range(30)] + [packet(3), packet(4).replace(b"  ", b" ", 1)]
    async with Publisher("127.0.0.1", app.ports.receive, window=64) as publisher:  # > a slice
        replies = await asyncio.gather(*(publisher.publish(p) for p in packets))
    assert publisher.pipelined is True
    assert replies[:30] == [Ack(f"ivo://vohub.test/unit#test-{i}", "ivo://vohub.test/unit")
                            for i in range(30)]  # fmt: skip
    assert isinstance(replies[30], Nak)
    assert replies[30].reason == "Event rejected: Previously seen by this broker"
    assert isinstance(replies[31], Nak)
    assert "already seen with different content" in (replies[31].reason or "")
    await wait_for(lambda: len(got) == 30)
    assert got == [f"ivo://vohub.test/unit#test-{i}" for i in range(30)]
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await sub.aclose()


async def test_a_bad_frame_ends_a_pipeline_after_the_earlier_verdicts(
    app_factory: AppFactory, packet: PacketMaker
) -> None:
    app = await app_factory()
    data = ASK + encode_frame(packet(1)) + encode_frame(b"<html/>") + encode_frame(packet(2))
    got = await exchange(app.ports.receive, data, half_close=False)
    assert got == [
        Authenticate("ivo://vohub.test/author", "ivo://vohub.test/unit", pipelining=True),
        Ack("ivo://vohub.test/unit#test-1", "ivo://vohub.test/unit"),
    ]
    assert app.metrics.value("vohub_broker_received_total", path="author") == 1


async def test_a_voevent_cut_short_is_not_counted_as_received(
    app_factory: AppFactory, packet: PacketMaker
) -> None:
    """Read by its head, it was counted in for the judge and never out: with a judge, every
    unreadable VOEvent left received_total above accepted plus rejected."""
    app = await app_factory()
    cut = packet(2)[:600]  # a whole root start tag, then nothing
    data = ASK + encode_frame(packet(1)) + encode_frame(cut) + encode_frame(packet(3))
    got = await exchange(app.ports.receive, data, half_close=False)
    assert [type(m).__name__ for m in got] == ["Authenticate", "Ack"]
    text = generate_latest(app.metrics.registry).decode()
    rejected = [line for line in text.splitlines() if line.startswith("vohub_broker_rejected_")]
    assert rejected == []
    assert app.metrics.value("vohub_broker_accepted_total", path="author") == 1
    assert app.metrics.value("vohub_broker_received_total", path="author") == 1


async def test_an_idle_pipeline_is_closed_after_the_author_timeout(
    app_factory: AppFactory, packet: PacketMaker
) -> None:
    app = await app_factory(author_timeout=0.3)
    data = ASK + encode_frame(packet(1))
    got = await asyncio.wait_for(exchange(app.ports.receive, data, half_close=False), 5)
    assert [type(m).__name__ for m in got] == ["Authenticate", "Ack"]


async def test_with_pipelining_off_authors_fall_back_to_a_connection_each(
    app_factory: AppFactory, packet: PacketMaker, caplog: pytest.LogCaptureFixture
) -> None:
    app = await app_factory(author_pipelining=False)
    with caplog.at_level(logging.INFO, logger="vohub.broker.author"):
        async with Publisher("127.0.0.1", app.ports.receive) as publisher:
            replies = [await publisher.publish(packet(i)) for i in range(3)]
    assert publisher.pipelined is False
    assert all(isinstance(r, Ack) for r in replies)
    # the request is fair, the refusal policy: no warning of an unreadable message
    logged = [(r.levelname, r.getMessage()) for r in caplog.records if r.name.endswith("author")]
    assert logged == [("INFO", "author.pipelining_declined")]


@pytest.mark.parametrize("pipelined", [False, True])
async def test_a_stop_still_answers_the_events_being_spooled(
    app_factory: AppFactory, packet: PacketMaker, pipelined: bool
) -> None:
    """A stop closed every author's connection at once: an event being spooled was accepted
    but never acked, and the author's resend was refused as previously seen."""
    app = await app_factory()
    gate = asyncio.Event()
    appended = asyncio.Event()
    append = app.spool.append

    def slow_append(ivorn: str, xml: bytes, received: float) -> asyncio.Future[None]:
        durable = append(ivorn, xml, received)
        appended.set()

        async def after_gate() -> None:
            await durable
            await gate.wait()

        return asyncio.ensure_future(after_gate())

    app.spool.append = slow_append  # type: ignore[method-assign]
    reader, writer = await asyncio.open_connection("127.0.0.1", app.ports.receive)
    writer.write((ASK if pipelined else b"") + encode_frame(packet(1)))
    await asyncio.wait_for(appended.wait(), 10)
    stopping = asyncio.ensure_future(app.stop(grace=5))
    await asyncio.sleep(0.2)  # the stop is under way; the event is still being spooled
    gate.set()
    decoder = FrameDecoder()
    decoder.feed(await asyncio.wait_for(reader.read(), 10))  # until the broker closes
    writer.close()
    await stopping
    replies = [type(decode(frame)).__name__ for frame in decoder]
    assert replies == (["Authenticate", "Ack"] if pipelined else ["Ack"])

"""The judge process: the same verdicts as in the broker's own process, in order, and it
survives its worker dying."""

from __future__ import annotations

import asyncio

import pytest

from vohub.broker.judge import JudgeProcess
from vohub.vtp import Ack, Authenticate, Message, Nak, encode_frame
from vohub.vtp.client import Publisher

from .conftest import AppFactory, PacketMaker
from .test_vtp_server import ASK, exchange

UNIT = "ivo://vohub.test/unit"


def assorted(packet: PacketMaker) -> list[bytes]:
    """Valid, schema-invalid, bad IVORN, duplicate (while the first may still be judged),
    conflict, then valid again."""
    bogus = packet(2).replace(b"<Who>", b"<Bogus/><Who>", 1)
    no_local_id = packet(3).replace(b"#test-3", b"", 1)
    return [packet(1), bogus, no_local_id, packet(1), packet(1).replace(b"  ", b" ", 1), packet(4)]


def summary(replies: list[Message]) -> list[tuple[str, str | None]]:
    return [(type(r).__name__, r.reason if isinstance(r, Nak) else None) for r in replies]


async def publish_all(port: int, packets: list[bytes]) -> list[Message]:
    async with Publisher("127.0.0.1", port, window=64) as publisher:
        return list(await asyncio.gather(*(publisher.publish(p) for p in packets)))


async def test_a_judge_process_gives_the_same_verdicts_and_nak_texts(
    app_factory: AppFactory, packet: PacketMaker
) -> None:
    here = await app_factory(judge_workers=0)
    there = await app_factory(judge_workers=1)
    expected = summary(await publish_all(here.ports.receive, assorted(packet)))
    got = summary(await publish_all(there.ports.receive, assorted(packet)))
    assert got == expected
    assert [kind for kind, _ in got] == ["Ack", "Nak", "Nak", "Nak", "Nak", "Ack"]
    assert "schema violation" in (got[1][1] or "")
    assert got[2][1] == (  # as vohub validate words it
        "Event rejected: invalid IVORN: no #local_id after the stream: 'ivo://vohub.test/unit'"
    )
    assert got[3][1] == "Event rejected: Previously seen by this broker"


@pytest.mark.parametrize("judge_workers", [0, 1])
async def test_a_body_that_is_not_xml_ends_the_pipeline_as_an_unreadable_frame(
    app_factory: AppFactory, packet: PacketMaker, judge_workers: int
) -> None:
    app = await app_factory(judge_workers=judge_workers)
    broken = packet(2).replace(b"</Who>", b"</Whom>", 1)  # its head reads fine
    data = ASK + encode_frame(packet(1)) + encode_frame(broken) + encode_frame(packet(3))
    got = await exchange(app.ports.receive, data, half_close=False)
    assert got == [
        Authenticate("ivo://vohub.test/author", UNIT, pipelining=True),
        Ack(f"{UNIT}#test-1", UNIT),
    ]
    assert app.metrics.value("vohub_broker_accepted_total", path="author") == 1
    one_shot = await exchange(app.ports.receive, encode_frame(broken), half_close=False)
    assert one_shot == []


async def test_a_killed_worker_is_restarted_and_the_outstanding_batches_judged(
    packet: PacketMaker,
) -> None:
    judge = JudgeProcess(strict=True)
    await judge.start()
    try:
        assert judge._proc is not None
        first = judge.judge([packet(1), b"<VOEvent/"])
        second = judge.judge([packet(2)])
        judge._proc.kill()
        verdicts = await asyncio.wait_for(first, 10)
        assert [v.label if v else None for v in verdicts] == [None, "invalid"]
        assert await asyncio.wait_for(second, 10) == [None]
        assert judge.restarts == 1
        assert await asyncio.wait_for(judge.judge([packet(3)]), 10) == [None]
    finally:
        await judge.close()


async def test_a_worker_that_cannot_run_refuses_batches_instead_of_hanging(
    packet: PacketMaker,
) -> None:
    judge = JudgeProcess(strict=True)
    judge.worker = "vohub.broker.no_such_worker"
    await judge.start()
    try:
        verdicts = await asyncio.wait_for(judge.judge([packet(1)]), 10)
        assert [v.label if v else None for v in verdicts] == ["unavailable"]
    finally:
        await judge.close()


@pytest.mark.parametrize("judge_workers", [0, 1])
async def test_one_shot_authors_at_once_each_get_their_verdict_and_a_repeat_is_caught(
    app_factory: AppFactory, packet: PacketMaker, judge_workers: int
) -> None:
    app = await app_factory(judge_workers=judge_workers)
    packets = [packet(i) for i in range(20)] + [packet(7)]
    replies = await asyncio.gather(
        *(exchange(app.ports.receive, encode_frame(p), half_close=False) for p in packets)
    )
    assert all(len(r) == 1 for r in replies)
    kinds = [type(r[0]).__name__ for r in replies]
    assert kinds.count("Ack") == 20
    assert kinds.count("Nak") == 1
    assert {r[0].ivorn for r in replies if isinstance(r[0], Ack)} == {
        f"{UNIT}#test-{i}" for i in range(20)
    }

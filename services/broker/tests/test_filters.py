"""The filter sandbox: Comet semantics, and a runaway XPath killed without stalling the loop."""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from vohub.broker.fanout import Accepted, Batch, Fanout, new_sub_id
from vohub.broker.filter_worker import PROGRESS
from vohub.broker.filters import FilterSandbox
from vohub.broker.metrics import Metrics

from .conftest import BAT, GAIA, RUNAWAY, AppFactory, wait_for


@dataclass(frozen=True)
class Probe:
    """A packet's place in the list :func:`evaluate` was given."""

    index: int

    @property
    def ivorn(self) -> str:
        return f"ivo://vohub.test/unit#probe-{self.index}"


Sandbox = FilterSandbox[Probe]


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[tuple[Sandbox, list[tuple[int, str]]]]:
    timeouts: list[tuple[int, str]] = []
    box: Sandbox = FilterSandbox(
        budget=0.3, on_dropped=lambda i, c, r: timeouts.append((i, r)), folder=tmp_path
    )
    await box.start()
    running = asyncio.create_task(box.run())
    yield box, timeouts
    running.cancel()
    await box.close()


async def evaluate(box: Sandbox, packets: list[bytes]) -> list[list[int]]:
    """The subscribers whose filters pass, per packet, once every verdict is in."""
    matched: list[list[int]] = [[] for _ in packets]
    box.on_matched = lambda sub_id, probes: [matched[p.index].append(sub_id) for p in probes]
    box.submit([(packet, Probe(index)) for index, packet in enumerate(packets)])
    await asyncio.wait_for(box.settled(), 60)
    return [sorted(subs) for subs in matched]


async def test_filters_match_as_comet_does(sandbox: tuple[Sandbox, list]) -> None:  # type: ignore[type-arg]
    box, _ = sandbox
    box.set(1, ["//Param[@name='Packet_Type' and @value='61']"])
    box.set(2, ["/*[local-name()='VOEvent' and @role!='test']", "//Nope"])
    box.set(3, ["//voe:VOEvent"])  # compiles, fails at evaluation: matches nothing (Comet)
    box.set(4, ["count(//Param) > 1000", "string(//Who/AuthorIVORN)"])
    bat, gaia = BAT.read_bytes(), GAIA.read_bytes()
    assert await evaluate(box, [bat, gaia, b"not xml"]) == [[1, 2, 4], [2, 4], []]
    box.drop(4)
    assert await evaluate(box, [bat]) == [[1, 2]]


async def test_a_runaway_filter_is_killed_and_only_its_subscriber_pays(
    sandbox: tuple[Sandbox, list],  # type: ignore[type-arg]
) -> None:
    box, timeouts = sandbox
    box.set(1, ["//Why"])
    box.set(2, [RUNAWAY])
    box.set(3, ["//What"])
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    started = time.monotonic()
    verdicts = await evaluate(box, [BAT.read_bytes()])
    elapsed = time.monotonic() - started
    task.cancel()
    assert verdicts == [[1, 3]]
    assert [sub for sub, _ in timeouts] == [2]
    assert RUNAWAY in timeouts[0][1]
    assert box.restarts == 1
    assert 2 not in box.filters
    # the event loop kept running while the worker overran its 0.3 s budget (a blocked loop
    # would tick at most once); not a timing figure, so a loaded machine cannot fail it
    assert elapsed >= 0.3
    assert ticks >= 3
    assert await evaluate(box, [BAT.read_bytes()]) == [[1, 3]]


async def test_a_worker_killed_from_outside_is_replaced_and_filters_survive(
    sandbox: tuple[Sandbox, list],  # type: ignore[type-arg]
) -> None:
    box, timeouts = sandbox
    box.set(1, ["//Why"])
    assert box._proc is not None
    box._proc.kill()  # as the OOM killer would
    await box._proc.wait()
    box.set(2, ["//What"])  # given to a dead worker: must not raise
    assert await evaluate(box, [BAT.read_bytes()]) == [[1, 2]]
    assert box.restarts == 1
    assert timeouts == []


class StubSink:
    """A filtered subscriber as the fan-out sees it, noting why it was dropped."""

    kind = "vtp"

    def __init__(self) -> None:
        self.sub_id = new_sub_id()
        self.dropped: list[str] = []

    def wants(self, accepted: Accepted) -> bool:
        return True

    def deliver(self, accepted: Accepted) -> None:
        pass

    def deliver_many(self, batch: Batch) -> None:
        pass

    def drop(self, reason: str) -> None:
        self.dropped.append(reason)


async def test_the_timeout_metric_counts_timeouts_and_not_a_worker_killed_in_a_filter(
    sandbox: tuple[Sandbox, list],  # type: ignore[type-arg]
) -> None:
    """vohub_broker_filter_timeouts also counted filters dropped for killing the worker."""
    box, _ = sandbox
    metrics = Metrics()
    fanout = Fanout(box, metrics)  # type: ignore[arg-type]  # only its on_dropped is used
    slow, killed = StubSink(), StubSink()

    fanout.add(slow, [RUNAWAY])
    assert await evaluate(box, [BAT.read_bytes()]) == [[]]
    [reason] = slow.dropped
    assert "exceeded its 0.3 s budget" in reason
    assert metrics.value("vohub_broker_filter_timeouts_total") == 1
    assert metrics.value("vohub_broker_filter_crashes_total") == 0

    box.budget = 60.0  # the worker dies in this filter well before it times out
    fanout.add(killed, [RUNAWAY])
    evaluation = asyncio.create_task(evaluate(box, [BAT.read_bytes()]))
    await wait_for(lambda: PROGRESS.unpack_from(box._progress)[1] == killed.sub_id, 10)
    assert box._proc is not None
    box._proc.kill()  # as a filter that crashes lxml, or the OOM killer, would
    assert await evaluation == [[]]
    [reason] = killed.dropped
    assert "killed the filter worker" in reason
    assert metrics.value("vohub_broker_filter_crashes_total") == 1
    assert metrics.value("vohub_broker_filter_timeouts_total") == 1


async def test_a_worker_that_dies_idle_is_logged_as_such_and_names_no_subscriber(
    sandbox: tuple[Sandbox, list],  # type: ignore[type-arg]
    caplog: pytest.LogCaptureFixture,
) -> None:
    """It was logged as ``subscriber=-1 cause="killed the filter worker"``."""
    box, timeouts = sandbox
    box.set(1, ["//Why"])
    assert box._proc is not None
    box._proc.kill()  # between batches: in nobody's filter
    await box._proc.wait()
    with caplog.at_level(logging.WARNING, logger="vohub.broker.filters"):
        assert await evaluate(box, [BAT.read_bytes()]) == [[1]]
    [restarted] = [r for r in caplog.records if r.getMessage() == "filter.worker_restarted"]
    assert restarted.vohub_fields == {"cause": "the filter worker died while idle"}
    assert timeouts == []


async def test_the_sandbox_keeps_its_file_in_the_data_folder_not_the_temp_folder(
    app_factory: AppFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its folder was a temporary one, which a broker killed outright (kill -9) left behind
    in /tmp, one per start."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    app = await app_factory()
    assert (app.config.data_dir / "filter-progress").is_file()
    assert list(temp.iterdir()) == []
    await app.stop(grace=0)
    assert not (app.config.data_dir / "filter-progress").exists()

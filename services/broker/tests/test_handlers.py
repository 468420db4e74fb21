"""Local --exec handlers: real scripts, a concurrency cap, timeouts, and failures counted."""

from __future__ import annotations

import asyncio
import hashlib
import os
import stat
from pathlib import Path

import pytest

from vohub.broker.errors import HandlerFailed
from vohub.broker.handlers import ExecHandler
from vohub.broker.metrics import Metrics

from .conftest import wait_for


def script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


async def test_each_packet_reaches_the_script_on_stdin(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    record = script(tmp_path / "record.sh", f'sha1sum > "{out}/$$"\n')
    metrics = Metrics()
    handler = ExecHandler([str(record)], metrics, concurrency=2)
    packets = [f"<VOEvent n='{i}'/>".encode() for i in range(6)]
    for i, packet in enumerate(packets):
        handler(f"ivo://vohub.test/h#{i}", packet, "test")
    await handler.drain()
    got = sorted(p.read_text().split()[0] for p in out.iterdir())
    assert got == sorted(hashlib.sha1(p).hexdigest() for p in packets)
    assert metrics.value("vohub_broker_handler_runs_total", outcome="ok") == 6


async def test_a_command_that_never_reads_its_stdin_succeeds(tmp_path: Path) -> None:
    # A notifier that ignores the packet exits before (small packets) or while (packets larger
    # than a pipe's buffer) the broker writes it: either way its run is a success.
    metrics = Metrics()
    ran = tmp_path / "ran"
    notify = ExecHandler([str(script(tmp_path / "n.sh", f'echo x >> "{ran}"\n'))], metrics)
    for i, size in enumerate([10] * 20 + [300_000] * 5):
        notify(f"ivo://vohub.test/h#{i}", b"<x/>" * size, "test")
    await notify.drain()
    assert len(ran.read_text().splitlines()) == 25
    assert metrics.value("vohub_broker_handler_runs_total", outcome="ok") == 25


async def test_failures_and_timeouts_are_counted_and_do_not_block(tmp_path: Path) -> None:
    metrics = Metrics()
    failing = ExecHandler([str(script(tmp_path / "f.sh", "cat >/dev/null; exit 3\n"))], metrics)
    slow = ExecHandler(
        [str(script(tmp_path / "s.sh", "sleep 30\n"))], metrics, concurrency=1, timeout=0.3
    )
    missing = ExecHandler([str(tmp_path / "nope")], metrics)
    loop = asyncio.get_running_loop()
    started = loop.time()
    failing("ivo://vohub.test/h#1", b"<x/>", "test")
    slow("ivo://vohub.test/h#2", b"<x/>", "test")
    slow("ivo://vohub.test/h#3", b"<x/>", "test")
    missing("ivo://vohub.test/h#4", b"<x/>", "test")
    assert loop.time() - started < 0.1  # scheduling never waits on a handler
    await asyncio.gather(failing.drain(), slow.drain(), missing.drain())
    assert metrics.value("vohub_broker_handler_failures_total", reason="exit") == 1
    assert metrics.value("vohub_broker_handler_failures_total", reason="timeout") == 2
    assert metrics.value("vohub_broker_handler_failures_total", reason="start") == 1


async def test_the_queue_is_bounded(tmp_path: Path) -> None:
    metrics = Metrics()
    handler = ExecHandler(
        [str(script(tmp_path / "s.sh", "sleep 0.2\n"))], metrics, concurrency=1, queue=2
    )
    for i in range(5):
        handler(f"ivo://vohub.test/h#{i}", b"<x/>", "test")
    await handler.drain()
    assert metrics.value("vohub_broker_handler_failures_total", reason="overflow") == 3
    assert metrics.value("vohub_broker_handler_runs_total", outcome="ok") == 2


async def test_a_failed_run_raises_handler_failed_naming_the_ivorn(tmp_path: Path) -> None:
    handler = ExecHandler([str(script(tmp_path / "f.sh", "echo boom >&2; exit 4\n"))], Metrics())
    with pytest.raises(HandlerFailed) as caught:
        await handler.run("ivo://vohub.test/h#9", b"<x/>", "test")
    assert str(caught.value) == "ivo://vohub.test/h#9: exit: status 4: boom"


async def test_stop_kills_running_runs_and_skips_waiting_ones(tmp_path: Path) -> None:
    metrics = Metrics()
    started = tmp_path / "started"
    slow = script(tmp_path / "slow.sh", f'cat >/dev/null; echo $$ >> "{started}"; sleep 30\n')
    handler = ExecHandler([str(slow)], metrics, concurrency=1)
    for i in range(3):
        handler(f"ivo://vohub.test/h#{i}", b"<x/>", "test")
    await wait_for(started.exists)
    await handler.stop(grace=0.2)
    assert metrics.value("vohub_broker_handler_failures_total", reason="stopping") == 3
    [pid] = started.read_text().split()
    with pytest.raises(ProcessLookupError):  # killed, not left running after the broker
        os.kill(int(pid), 0)
    handler("ivo://vohub.test/h#late", b"<x/>", "test")  # after stop: logged and dropped at once
    await handler.drain()
    assert started.read_text().split() == [pid]
    assert metrics.value("vohub_broker_handler_failures_total", reason="stopping") == 4


def test_the_command_is_named_as_a_shell_would_read_it() -> None:
    """``sh -c 'exit 3'`` was logged as ``sh -c exit 3``, another command."""
    assert ExecHandler(["sh", "-c", "exit 3"], Metrics()).name == "sh -c 'exit 3'"

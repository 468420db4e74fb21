"""Commands run per packet: process groups killed on timeout or stop, failures named."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from vohub.common.handlers import CommandFailed, HandlerPool, run_command


def spawner(tmp_path: Path) -> list[str]:
    """A command whose child (not itself) writes its pid and then sleeps."""
    return ["sh", "-c", f'sleep 30 & echo $! > "{tmp_path}/child"; wait']


async def child_pid(tmp_path: Path) -> int:
    path = tmp_path / "child"
    async with asyncio.timeout(10):
        while not path.exists() or not path.read_text().strip():  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    return int(path.read_text())


async def ended(pid: int) -> bool:
    """Whether the process ends within a few seconds (reaped, or a zombie left to the init
    that adopted it: SIGKILL is not delivered at once)."""
    for _ in range(100):
        if not running(pid):
            return True
        await asyncio.sleep(0.05)
    return False


def running(pid: int) -> bool:
    try:
        return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


async def test_a_timeout_kills_the_command_and_everything_it_started(tmp_path: Path) -> None:
    with pytest.raises(CommandFailed) as caught:
        await run_command(spawner(tmp_path), b"", time_limit=0.5)
    assert (caught.value.reason, str(caught.value)) == ("timeout", "timeout: killed after 0.5 s")
    assert await ended(await child_pid(tmp_path))


async def test_cancelling_a_run_kills_its_process_group(tmp_path: Path) -> None:
    run = asyncio.create_task(run_command(spawner(tmp_path), b"", time_limit=60))
    pid = await child_pid(tmp_path)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert await ended(pid)


async def test_a_command_that_cannot_start_is_named(tmp_path: Path) -> None:
    with pytest.raises(CommandFailed) as caught:
        await run_command([str(tmp_path / "missing")], b"", time_limit=5)
    assert caught.value.reason == "start"
    assert str(caught.value) == f"start: {tmp_path}/missing: No such file or directory"


async def test_a_silent_failure_gives_its_status_alone() -> None:
    with pytest.raises(CommandFailed, match=r"^exit: status 7$"):
        await run_command(["sh", "-c", "exit 7"], b"", time_limit=5)


async def test_drain_returns_when_stop_is_set_and_stop_reports_each_run() -> None:
    stopped: list[tuple[str, bool]] = []
    pool = HandlerPool(
        lambda item: asyncio.sleep(60),
        concurrency=1,
        backlog=2,
        stopped=lambda item, started: stopped.append((item, started)),
    )
    assert [pool.submit(item) for item in "abc"] == [True, True, False]  # backlog of 2
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(0.1, stop.set)
    async with asyncio.timeout(5):
        await pool.drain(stop)
    await pool.stop(grace=0.1)
    assert sorted(stopped) == [("a", True), ("b", False)]

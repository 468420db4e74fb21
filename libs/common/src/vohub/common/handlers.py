"""Run a command per packet in the background, bounded in number, in backlog and in time.

The broker's ``--exec`` handlers and ``vohub listen --exec`` both run this way:

* :func:`run_command` runs a command once with the packet on its standard input, in a process
  group of its own, and kills the whole group when it exceeds its time or is cancelled, so no
  grandchild (a shell script's ``curl``, say) outlives it. Failures raise :class:`CommandFailed`.
* :class:`HandlerPool` schedules one run per packet as a task: at most ``concurrency`` at
  once, up to ``backlog`` waiting. Scheduling never waits. :meth:`HandlerPool.stop` starts no
  more runs, gives running ones a grace period and then cancels them; the owner hears of each
  run killed or never started, to log it with its IVORN.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import IO, Any, Generic, Literal, TypeVar

from vohub.common.aio import cancel_after
from vohub.common.spawn import spawn

T = TypeVar("T")
Reason = Literal["start", "exit", "timeout"]
#: Seconds a killed command's stderr pipe is read for, to its end.
KILLED_PIPE_WAIT = 1.0


class CommandFailed(Exception):
    """A command could not start, exited non-zero or ran out of time; ``reason`` says which.

    >>> str(CommandFailed("exit", "status 3: disk full"))
    'exit: status 3: disk full'
    """

    def __init__(self, reason: Reason, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}")


async def run_command(
    argv: Sequence[str],
    data: bytes,
    *,
    time_limit: float,
    env: Mapping[str, str] | None = None,
    stdout: int | IO[Any] = asyncio.subprocess.DEVNULL,
    capture_stderr: bool = True,
) -> None:
    """Run ``argv`` (no shell) with ``data`` on its stdin and wait up to ``time_limit`` seconds.

    Raises CommandFailed: ``start`` (not found, not executable), ``exit`` (a non-zero status,
    with the end of its stderr when ``capture_stderr``) or ``timeout`` (killed). A command
    that exits without reading its stdin has not failed.

    >>> async def attempt(script: str) -> str:
    ...     try:
    ...         await run_command(["sh", "-c", script], b"<VOEvent/>", time_limit=5)
    ...     except CommandFailed as exc:
    ...         return str(exc)
    ...     return "ok"
    >>> asyncio.run(attempt("cat > /dev/null"))
    'ok'
    >>> asyncio.run(attempt("echo disk full >&2; exit 3"))
    'exit: status 3: disk full'
    """
    try:
        proc = await spawn(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=stdout,
            stderr=asyncio.subprocess.PIPE if capture_stderr else None,
            env=env,
            start_new_session=True,
        )
    except OSError as exc:
        raise CommandFailed("start", f"{argv[0]}: {exc.strerror}") from None
    try:
        err = await asyncio.wait_for(_exchange(proc, data), time_limit)
    except TimeoutError:
        await _kill(proc)
        raise CommandFailed("timeout", f"killed after {time_limit:g} s") from None
    except asyncio.CancelledError:
        await _kill(proc)
        raise
    if proc.returncode != 0:
        detail = f"status {proc.returncode}"
        tail = err.decode(errors="replace").strip()[-200:]
        raise CommandFailed("exit", f"{detail}: {tail}" if tail else detail)


async def _exchange(proc: asyncio.subprocess.Process, data: bytes) -> bytes:
    """Give the command ``data`` on its stdin; its stderr (if piped) once it has exited.

    ``Process.communicate`` cannot be used for this on uvloop: a write to the pipe of a
    command that has already exited raises RuntimeError there, not BrokenPipeError.
    """
    stdin, stderr = proc.stdin, proc.stderr
    assert stdin is not None

    async def feed() -> None:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            if not stdin.is_closing():
                stdin.write(data)
                await stdin.drain()
            stdin.close()

    async def read() -> bytes:
        return b"" if stderr is None else await stderr.read()

    _, err = await asyncio.gather(feed(), read())
    await proc.wait()
    return err


async def _kill(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # the group: the command and all it started
    await proc.wait()
    if proc.stderr is not None:
        # Read the pipe to its end (it closes with the group, unless something left the group
        # holds it), so that its transport is closed here, not left to a loop that may be
        # closing: uvloop then fails to close ("Device or resource busy").
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.stderr.read(), KILLED_PIPE_WAIT)


class HandlerPool(Generic[T]):
    """Runs ``handle(item)`` for each :meth:`submit`-ted item as a background task.

    ``stopped(item, started)`` is called for each run that :meth:`stop` kills (``started``)
    or that never starts because the pool is stopping.

    >>> async def demo() -> list[str]:
    ...     done: list[str] = []
    ...     async def handle(item: str) -> None:
    ...         done.append(item)
    ...     pool = HandlerPool(handle, concurrency=2, backlog=10, stopped=print)
    ...     for item in ("a", "b", "c"):
    ...         pool.submit(item)
    ...     await pool.drain()
    ...     return sorted(done)
    >>> asyncio.run(demo())
    ['a', 'b', 'c']
    """

    def __init__(
        self,
        handle: Callable[[T], Awaitable[None]],
        *,
        concurrency: int,
        backlog: int,
        stopped: Callable[[T, bool], None],
    ) -> None:
        self.handle = handle
        self.backlog = backlog
        self.stopped = stopped
        self._slots = asyncio.Semaphore(max(1, concurrency))
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False

    def submit(self, item: T) -> bool:
        """Schedule a run for ``item``; False (nothing scheduled) when the backlog is full."""
        if len(self._tasks) >= self.backlog:
            return False
        task = asyncio.get_running_loop().create_task(self._guarded(item))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _guarded(self, item: T) -> None:
        started = False
        try:
            async with self._slots:
                if self._closing:
                    self.stopped(item, False)
                    return
                started = True
                await self.handle(item)
        except asyncio.CancelledError:
            self.stopped(item, started)
            raise

    async def drain(self, stop: asyncio.Event | None = None) -> None:
        """Wait until every run submitted so far has finished, or until ``stop`` is set."""
        stopping = asyncio.create_task((stop or asyncio.Event()).wait())
        try:
            while self._tasks and not stopping.done():
                runs = asyncio.gather(*list(self._tasks), return_exceptions=True)
                waiters: set[asyncio.Future[Any]] = {stopping, runs}
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()

    async def stop(self, grace: float) -> None:
        """Start no more runs; wait up to ``grace`` seconds for running ones, then cancel them.

        >>> async def demo() -> list[tuple[str, bool]]:
        ...     ends: list[tuple[str, bool]] = []
        ...     async def handle(item: str) -> None:
        ...         await asyncio.sleep(60)
        ...     end = lambda item, started: ends.append((item, started))
        ...     pool = HandlerPool(handle, concurrency=1, backlog=9, stopped=end)
        ...     for item in "ab":
        ...         pool.submit(item)
        ...     await asyncio.sleep(0)
        ...     await pool.stop(grace=0.01)
        ...     return sorted(ends)
        >>> asyncio.run(demo())  # "a" was killed; "b" never started
        [('a', True), ('b', False)]
        """
        self._closing = True
        await cancel_after(self._tasks, grace)

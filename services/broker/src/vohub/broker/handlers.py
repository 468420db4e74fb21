"""Run local ``--exec`` handlers: each accepted packet on a command's stdin, never blocking.

A command runs with no shell, the broker's environment and the packet bytes on stdin (as
Comet's ``--cmd``, but with arguments allowed). At most ``concurrency`` run at once; up to
``queue`` more wait their turn; beyond that a run is dropped. A run that exceeds ``timeout``
is killed with its whole process group. Every failure (non-zero exit, timeout, failure to
start, overflow) is logged and counted; none delays an ack or another packet. When the broker
stops, waiting runs are not started and running ones get a grace period, then are killed;
each is logged with its IVORN and counted (reason ``stopping``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Sequence

from vohub.broker.errors import HandlerFailed
from vohub.broker.metrics import Metrics
from vohub.broker.spawn import spawn
from vohub.common.aio import cancel_after
from vohub.common.logs import get_logger

log = get_logger(__name__)


class ExecHandler:
    """Spawns ``argv`` for each packet given to :meth:`__call__`."""

    def __init__(
        self,
        argv: Sequence[str],
        metrics: Metrics,
        *,
        concurrency: int = 4,
        timeout: float = 30.0,
        queue: int = 1000,
    ) -> None:
        self.argv = list(argv)
        self.metrics = metrics
        self.timeout = timeout
        self.queue = queue
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False

    @property
    def name(self) -> str:
        """The command, for logs."""
        return " ".join(self.argv)

    def __call__(self, ivorn: str, xml: bytes) -> None:
        """Schedule a run for this packet (or drop it, counted, if the queue is full)."""
        if len(self._tasks) >= self.queue:
            self.metrics.handler_failures.labels(reason="overflow").inc()
            log.warning("handler.overflow", command=self.name, ivorn=ivorn, queued=self.queue)
            return
        task = asyncio.get_running_loop().create_task(self._guarded(ivorn, xml))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guarded(self, ivorn: str, xml: bytes) -> None:
        started = False
        try:
            async with self._slots:
                if self._closing:
                    self._stopped("handler.skipped", ivorn)
                    return
                started = True
                await self._counted(ivorn, xml)
        except asyncio.CancelledError:
            self._stopped("handler.killed" if started else "handler.skipped", ivorn)
            raise

    async def _counted(self, ivorn: str, xml: bytes) -> None:
        try:
            await self.run(ivorn, xml)
        except HandlerFailed as exc:
            self.metrics.handler_failures.labels(reason=exc.message.split(":")[0]).inc()
            self.metrics.handler_runs.labels(outcome="failed").inc()
            log.warning("handler.failed", command=self.name, ivorn=ivorn, error=exc.message)
        else:
            self.metrics.handler_runs.labels(outcome="ok").inc()
            log.debug("handler.ok", command=self.name, ivorn=ivorn)

    def _stopped(self, event: str, ivorn: str) -> None:
        self.metrics.handler_failures.labels(reason="stopping").inc()
        log.warning(event, command=self.name, ivorn=ivorn, reason="broker stopping")

    async def run(self, ivorn: str, xml: bytes) -> None:
        """Run the command once on ``xml``; raises HandlerFailed naming the IVORN."""
        try:
            proc = await spawn(
                *self.argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            raise HandlerFailed(ivorn, f"start: {self.argv[0]}: {exc.strerror}") from None
        try:
            err = await asyncio.wait_for(_exchange(proc, xml), self.timeout)
        except TimeoutError:
            _kill_group(proc.pid)
            await proc.wait()
            raise HandlerFailed(ivorn, f"timeout: killed after {self.timeout:g} s") from None
        except asyncio.CancelledError:  # the broker is stopping
            _kill_group(proc.pid)
            await proc.wait()
            raise
        if proc.returncode != 0:
            tail = err.decode(errors="replace").strip()[-200:]
            raise HandlerFailed(ivorn, f"exit: status {proc.returncode}: {tail}")

    async def drain(self) -> None:
        """Wait for every scheduled run to finish."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def stop(self, grace: float) -> None:
        """Start no more runs; wait up to ``grace`` seconds for running ones, then kill them."""
        self._closing = True
        await cancel_after(self._tasks, grace)


async def _exchange(proc: asyncio.subprocess.Process, xml: bytes) -> bytes:
    """Give the command ``xml`` on its stdin; its stderr once it has exited.

    A command may exit without reading its stdin (a notifier that ignores the packet); that is
    not a failure. ``Process.communicate`` cannot be used for this on uvloop: a write to the
    pipe of a command that has already exited raises RuntimeError there, not BrokenPipeError.
    """
    stdin, stderr = proc.stdin, proc.stderr
    assert stdin is not None
    assert stderr is not None

    async def feed() -> None:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            if not stdin.is_closing():
                stdin.write(xml)
                await stdin.drain()
            stdin.close()

    _, err = await asyncio.gather(feed(), stderr.read())
    await proc.wait()
    return err


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)

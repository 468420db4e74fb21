"""Run local ``--exec`` handlers: each accepted packet on a command's stdin, never blocking.

A command runs with no shell and the packet bytes on stdin (as Comet's ``--cmd``, but with
arguments allowed), in the broker's environment plus ``VOHUB_IVORN`` and ``VOHUB_ROLE``, as
under ``vohub listen --exec``, so one script serves both. At most ``concurrency`` run at once;
up to ``queue`` more wait their turn; beyond that a run is dropped. A run that exceeds
``timeout`` is killed with its whole process group. Every failure (non-zero exit, timeout,
failure to start, overflow) is logged and counted; none delays an ack or another packet. When
the broker stops, waiting runs are not started and running ones get a grace period, then are
killed; each is logged with its IVORN and counted (reason ``stopping``). Running the commands
is :mod:`vohub.common.handlers`; this module adds the broker's logs and metrics.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Sequence

from vohub.broker.errors import HandlerFailed
from vohub.broker.metrics import Metrics
from vohub.common.handlers import CommandFailed, HandlerPool, run_command
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
        self._pool = HandlerPool(
            self._counted, concurrency=concurrency, backlog=queue, stopped=self._stopped
        )

    @property
    def name(self) -> str:
        """The command as a shell would read it, for logs (``sh -c 'exit 3'``)."""
        return shlex.join(self.argv)

    def __call__(self, ivorn: str, xml: bytes, role: str) -> None:
        """Schedule a run for this packet (or drop it, counted, if the queue is full)."""
        if not self._pool.submit((ivorn, xml, role)):
            self.metrics.handler_failures.labels(reason="overflow").inc()
            log.warning("handler.overflow", command=self.name, ivorn=ivorn, queued=self.queue)

    async def _counted(self, packet: tuple[str, bytes, str]) -> None:
        ivorn, xml, role = packet
        try:
            await self.run(ivorn, xml, role)
        except HandlerFailed as exc:
            self.metrics.handler_failures.labels(reason=exc.reason).inc()
            self.metrics.handler_runs.labels(outcome="failed").inc()
            log.warning("handler.failed", command=self.name, ivorn=ivorn, error=exc.message)
        else:
            self.metrics.handler_runs.labels(outcome="ok").inc()
            log.debug("handler.ok", command=self.name, ivorn=ivorn)

    def _stopped(self, packet: tuple[str, bytes, str], started: bool) -> None:
        self.metrics.handler_failures.labels(reason="stopping").inc()
        event = "handler.killed" if started else "handler.skipped"
        log.warning(event, command=self.name, ivorn=packet[0], reason="broker stopping")

    async def run(self, ivorn: str, xml: bytes, role: str) -> None:
        """Run the command once on ``xml``; raises HandlerFailed naming the IVORN."""
        env = {**os.environ, "VOHUB_IVORN": ivorn, "VOHUB_ROLE": role}
        try:
            await run_command(self.argv, xml, time_limit=self.timeout, env=env)
        except CommandFailed as exc:
            raise HandlerFailed(ivorn, str(exc), reason=exc.reason) from None

    async def drain(self) -> None:
        """Wait for every scheduled run to finish."""
        await self._pool.drain()

    async def stop(self, grace: float) -> None:
        """Start no more runs; wait up to ``grace`` seconds for running ones, then kill them."""
        await self._pool.stop(grace)

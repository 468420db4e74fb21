"""Evaluate subscribers' XPath filters off the event loop, in a process that can be killed.

XPath 1.0 can be made arbitrarily expensive (``count(//*//*//*//*)``), and lxml cannot
interrupt an evaluation, so filters run in a sandbox process (:mod:`.filter_worker`) that
holds every subscriber's compiled filters. Each batch of packets gets a time budget of
``budget`` seconds per packet; if the worker overruns, it is killed, the subscriber whose
filter it was evaluating (read from a shared progress file) is reported through
``on_dropped`` (cause ``"timeout"``) and loses its filters, a fresh worker takes the others,
and the batch is evaluated again. A worker that dies mid-batch (its filter crashed it, or the
OOM killer) is handled alike, its culprit reported with cause ``"crash"``. The event loop
never waits on an XPath, only on a pipe.
"""

from __future__ import annotations

import asyncio
import contextlib
import mmap
import pickle
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

from vohub.broker.filter_worker import PROGRESS, frame
from vohub.common.logs import get_logger
from vohub.common.spawn import spawn

log = get_logger(__name__)

#: Why a subscriber lost its filters: its filter overran the budget, or the worker died in it.
Cause = Literal["timeout", "crash"]
#: The restart's log cause when the worker was in no subscriber's filter.
_IDLE: dict[Cause, str] = {
    "timeout": "the filter worker exceeded its {budget:g} s budget outside any filter",
    "crash": "the filter worker died while idle",
}


class FilterSandbox:
    """A worker process evaluating filters, restarted whenever it overruns its budget."""

    def __init__(
        self, *, budget: float, on_dropped: Callable[[int, Cause, str], None], folder: Path
    ) -> None:
        """``folder`` (made if missing) holds the progress file the worker writes: the
        broker's data folder, so that a broker killed outright leaves nothing elsewhere."""
        self.budget = budget
        self.on_dropped = on_dropped
        self.filters: dict[int, tuple[str, ...]] = {}
        self.restarts = 0
        folder.mkdir(parents=True, exist_ok=True)
        self._progress_path = folder / "filter-progress"
        self._progress_path.write_bytes(PROGRESS.pack(-1, -1))
        self._progress_file = self._progress_path.open("r+b")
        self._progress = mmap.mmap(self._progress_file.fileno(), PROGRESS.size)
        self._proc: asyncio.subprocess.Process | None = None
        self._batch = 0

    async def start(self) -> None:
        """Spawn the worker and give it every known filter."""
        self._proc = await spawn(
            sys.executable,
            "-m",
            "vohub.broker.filter_worker",
            str(self._progress_path),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        for sub_id, expressions in self.filters.items():
            self._send(("set", sub_id, expressions))

    def set(self, sub_id: int, expressions: Sequence[str]) -> None:
        """Give subscriber ``sub_id`` these filters (already checked to compile)."""
        self.filters[sub_id] = tuple(expressions)
        self._send(("set", sub_id, tuple(expressions)))

    def drop(self, sub_id: int) -> None:
        """Forget subscriber ``sub_id``."""
        if self.filters.pop(sub_id, None) is not None:
            self._send(("drop", sub_id))

    def _send(self, message: object) -> None:
        # A dead worker's pipe is closed (uvloop raises on a write to it): the message is
        # dropped, and the restart that evaluate() makes gives the new worker every filter.
        stdin = self._proc.stdin if self._proc is not None else None
        if stdin is not None and not stdin.is_closing():
            stdin.write(frame(message))

    async def evaluate(self, packets: list[bytes]) -> list[list[int]]:
        """Subscriber ids whose filters pass, per packet; overruns are handled, never raised."""
        for _ in range(len(self.filters) + 1):
            try:
                return await self._evaluate_once(packets)
            except TimeoutError:
                await self._blame_and_restart("timeout", f"exceeded its {self.budget:g} s budget")
            except (asyncio.IncompleteReadError, ConnectionError, EOFError):
                await self._blame_and_restart("crash", "killed the filter worker")
        return [[] for _ in packets]

    async def _evaluate_once(self, packets: list[bytes]) -> list[list[int]]:
        assert self._proc is not None
        assert self._proc.stdout is not None
        self._batch += 1
        self._send(("eval", self._batch, packets))
        async with asyncio.timeout(self.budget * len(packets)):
            while True:
                size = int.from_bytes(await self._proc.stdout.readexactly(4), "big")
                batch, results = pickle.loads(await self._proc.stdout.readexactly(size))
                if batch == self._batch:
                    return list(results)

    async def _blame_and_restart(self, cause: Cause, what: str) -> None:
        """Restart the worker; the subscriber whose filter it was evaluating loses its filters.

        A worker that was in no subscriber's filter (idle) costs nobody its filters,
        and its log line names no subscriber.
        """
        index, sub_id = PROGRESS.unpack_from(self._progress)
        await self._kill()
        self.restarts += 1
        PROGRESS.pack_into(self._progress, 0, -1, -1)
        if sub_id < 0:
            log.warning("filter.worker_restarted", cause=_IDLE[cause].format(budget=self.budget))
            await self.start()
            return
        culprit = self.filters.pop(sub_id, None)
        log.warning(
            "filter.worker_restarted",
            subscriber=sub_id,
            packet_index=index,
            cause=what,
            filters=list(culprit or ()),
        )
        await self.start()
        if culprit is not None:
            self.on_dropped(sub_id, cause, f"filter {what}: {list(culprit)}")

    async def _kill(self) -> None:
        if self._proc is None:
            return
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        with contextlib.suppress(ProcessLookupError):
            self._proc.kill()
        await self._proc.wait()
        self._proc = None

    async def close(self) -> None:
        """Stop the worker and remove its progress file."""
        await self._kill()
        self._progress.close()
        self._progress_file.close()
        self._progress_path.unlink(missing_ok=True)

"""Parse and XSD-check packets in a worker process, so the event loop only moves bytes.

Parsing a packet and validating it against its XSD is most of what a broker does per packet
that does not depend on the broker's state. :class:`JudgeProcess` hands batches of raw
packets to a worker process (:mod:`.judge_worker`) over pipes and resolves one future per
batch with the verdicts, in the order the batches were asked for, so the caller can decide
dedup afterwards, in arrival order. The batches asked for in one turn of the event loop (one
packet from each of many one-shot authors) go to the worker as one message. A worker that
dies is restarted and given every message still unanswered, again in order; one that it dies
on twice is refused as ``unavailable`` rather than left hanging. (Threads would not help: a
worker thread fights the busy event loop for the GIL: measured slower.)
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import pickle
import sys
from collections import deque
from dataclasses import dataclass, field

from vohub.broker.filter_worker import frame
from vohub.broker.pipeline import Refusal
from vohub.common.logs import get_logger
from vohub.common.spawn import spawn

log = get_logger(__name__)

#: Times a batch is sent to a fresh worker before it is refused as ``unavailable``.
ATTEMPTS = 2
#: Longest pause, in seconds, before restarting a worker that keeps dying.
MAX_BACKOFF = 5.0
Verdicts = list[Refusal | None]


@dataclass(slots=True)
class _Batch:
    """What goes to the worker in one message: the requests of one turn of the event loop."""

    batch_id: int
    packets: list[bytes] = field(default_factory=list)
    parts: list[tuple[asyncio.Future[Verdicts], int]] = field(default_factory=list)
    sealed: bool = False
    attempts: int = 0

    def resolve(self, verdicts: Verdicts) -> None:
        """Hand each request its share of ``verdicts``."""
        start = 0
        for future, count in self.parts:
            if not future.done():
                future.set_result(verdicts[start : start + count])
            start += count


class JudgeProcess:
    """A worker process judging packets (``strict``: XSD and IVORN; else the IVORN only)."""

    #: The module the worker runs.
    worker = "vohub.broker.judge_worker"

    def __init__(self, *, strict: bool) -> None:
        self.level = "strict" if strict else "lenient"
        self.restarts = 0
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._outstanding: deque[_Batch] = deque()
        self._ids = itertools.count(1)
        self._closing = False
        self._deaths = 0  # in a row, without an answer in between
        self._open: _Batch | None = None  # requests of this turn, sent at its end

    async def start(self) -> None:
        """Spawn the worker and send it every batch still unanswered."""
        self._proc = await spawn(
            sys.executable,
            "-m",
            self.worker,
            self.level,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        for batch in self._outstanding:
            if batch.sealed:
                self._send(batch)
        self._reader = asyncio.get_running_loop().create_task(self._read(self._proc))

    def judge(self, packets: list[bytes]) -> asyncio.Future[Verdicts]:
        """The verdicts on ``packets`` (None: passes), resolved after every earlier batch's."""
        loop = asyncio.get_running_loop()
        verdicts: asyncio.Future[Verdicts] = loop.create_future()
        batch = self._open
        if batch is None:
            batch = self._open = _Batch(next(self._ids))
            self._outstanding.append(batch)
            loop.call_soon(self._seal)
        batch.packets += packets
        batch.parts.append((verdicts, len(packets)))
        return verdicts

    def _seal(self) -> None:
        batch, self._open = self._open, None
        if batch is not None:
            batch.sealed = True
            if self._proc is not None:
                self._send(batch)

    def _send(self, batch: _Batch) -> None:
        assert self._proc is not None
        assert self._proc.stdin is not None
        batch.attempts += 1
        if not self._proc.stdin.is_closing():
            self._proc.stdin.write(frame((batch.batch_id, batch.packets)))

    async def _read(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        try:
            while True:
                size = int.from_bytes(await proc.stdout.readexactly(4), "big")
                batch_id, verdicts = pickle.loads(await proc.stdout.readexactly(size))
                batch = self._outstanding.popleft()
                assert batch.batch_id == batch_id, "the judge answers batches in order"
                self._deaths = 0
                batch.resolve([_refusal(v) for v in verdicts])
        except (asyncio.IncompleteReadError, ConnectionError):
            if not self._closing:
                await self._restart(proc)

    async def _restart(self, proc: asyncio.subprocess.Process) -> None:
        status = await proc.wait()
        self.restarts += 1
        self._deaths += 1
        log.warning("judge.died", status=status, outstanding=len(self._outstanding))
        if self._outstanding and self._outstanding[0].attempts >= ATTEMPTS:  # it kills it
            batch = self._outstanding.popleft()
            reason = "the validator process failed on this packet"
            batch.resolve([Refusal("unavailable", reason)] * len(batch.packets))
        self._proc = None
        await asyncio.sleep(min(0.05 * 2**self._deaths, MAX_BACKOFF))
        if not self._closing:
            await self.start()

    async def close(self) -> None:
        """Stop the worker; batches still unanswered are refused as ``unavailable``."""
        self._closing = True
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.stdin is not None:
                proc.stdin.close()
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        for batch in self._outstanding:
            batch.resolve([Refusal("unavailable", "the broker is stopping")] * len(batch.packets))
        self._outstanding.clear()


def _refusal(verdict: tuple[str, str] | None) -> Refusal | None:
    return None if verdict is None else Refusal(*verdict)

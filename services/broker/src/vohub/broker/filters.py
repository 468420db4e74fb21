"""Evaluate subscribers' XPath filters off the event loop, in a process that can be killed.

XPath 1.0 can be made arbitrarily expensive (``count(//*//*//*//*)``), and lxml cannot
interrupt an evaluation, so filters run in a sandbox process (:mod:`.filter_worker`) that
holds every subscriber's compiled filters. Packets are streamed to it as they are accepted,
and each subscriber's verdicts come back as soon as its own filters have run, through
``on_matched``, in acceptance order: a slow filter delays nobody else's packets by more than
one of its evaluations (the worker gives turns to the subscriber that has used the least time).

The time budget is per subscriber and per packet: one evaluation of one subscriber's filters
on one packet may run ``budget`` seconds. A watchdog reads which evaluation the worker is in,
and since when, from a shared progress file; past the budget it kills the worker, the
subscriber whose filter it was is reported through ``on_dropped`` (cause ``"timeout"``) and
loses its filters, and a fresh worker takes the others, each from the first packet it has no
verdict for. A worker that dies (its filter crashed it, or the OOM killer) is handled alike,
its culprit reported with cause ``"crash"``; one that overruns or dies parsing a packet costs
nobody their filters, and that packet matches nobody. The event loop never waits on an XPath,
only on a pipe.
"""

from __future__ import annotations

import asyncio
import contextlib
import mmap
import pickle
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Generic, Literal, Protocol, TypeVar

from vohub.broker.filter_worker import BETWEEN, PROGRESS, frame
from vohub.common.logs import get_logger
from vohub.common.spawn import spawn

log = get_logger(__name__)

#: Why a subscriber lost its filters: its filter overran the budget, or the worker died in it.
Cause = Literal["timeout", "crash"]
#: The restart's log cause when the worker was in no subscriber's filter.
_OUTSIDE: dict[Cause, str] = {
    "timeout": "the filter worker overran its budget parsing a packet",
    "crash": "the filter worker died parsing a packet",
}


class Named(Protocol):
    """What the sandbox is given with each packet, and hands back for those that match."""

    @property
    def ivorn(self) -> str:
        """The packet's IVORN, for the log."""


P = TypeVar("P", bound=Named)


class FilterSandbox(Generic[P]):
    """A worker process evaluating filters, restarted whenever a filter overruns its budget.

    Run :meth:`run` (it reads the verdicts and restarts the worker) once :meth:`start` returns.
    """

    def __init__(
        self, *, budget: float, on_dropped: Callable[[int, Cause, str], None], folder: Path
    ) -> None:
        """``folder`` (made if missing) holds the progress file the worker writes: the
        broker's data folder, so that a broker killed outright leaves nothing elsewhere."""
        self.budget = budget
        self.on_dropped = on_dropped
        self.on_matched: Callable[[int, list[P]], None] = lambda sub_id, packets: None
        self.filters: dict[int, tuple[str, ...]] = {}
        self.restarts = 0
        folder.mkdir(parents=True, exist_ok=True)
        self._progress_path = folder / "filter-progress"
        self._progress_path.write_bytes(PROGRESS.pack(*BETWEEN))
        self._progress_file = self._progress_path.open("r+b")
        self._progress = mmap.mmap(self._progress_file.fileno(), PROGRESS.size)
        self._proc: asyncio.subprocess.Process | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._overrun: tuple[int, int] | None = None  # (seq, sub_id) the watchdog killed
        # Packets some subscriber has no verdict for yet; the first is numbered _base.
        self._unsettled: deque[tuple[bytes, P]] = deque()
        self._base = 0
        self._last: dict[int, int] = {}  # each subscriber's last packet with a verdict
        self._settled = asyncio.Event()
        self._settled.set()
        self._closed = False

    async def start(self) -> None:
        """Spawn the worker; give it every filter and every packet still to be judged."""
        self._proc = await spawn(
            sys.executable,
            "-m",
            "vohub.broker.filter_worker",
            str(self._progress_path),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        for sub_id, expressions in self.filters.items():
            self._send(("set", sub_id, expressions, self._last[sub_id] + 1))
        if self._unsettled:
            self._send(("eval", self._base, [packet for packet, _ in self._unsettled]))
        self._overrun = None
        self._watchdog = asyncio.create_task(self._watch(self._proc))

    def set(self, sub_id: int, expressions: Sequence[str]) -> None:
        """Give subscriber ``sub_id`` these filters (already checked to compile); a new
        subscriber is judged from the next packet submitted."""
        self._last.setdefault(sub_id, self._next_seq - 1)
        self.filters[sub_id] = tuple(expressions)
        self._send(("set", sub_id, tuple(expressions), self._last[sub_id] + 1))

    def drop(self, sub_id: int) -> None:
        """Forget subscriber ``sub_id``."""
        if self.filters.pop(sub_id, None) is not None:
            self._send(("drop", sub_id))
        self._last.pop(sub_id, None)
        self._settle()

    def submit(self, packets: Sequence[tuple[bytes, P]]) -> None:
        """Judge these packets (raw, and what ``on_matched`` hands back) for every subscriber."""
        if not packets:
            return
        self._send(("eval", self._next_seq, [packet for packet, _ in packets]))
        self._unsettled.extend(packets)
        self._settle()

    async def settled(self) -> None:
        """Wait until every packet submitted so far has a verdict for every subscriber."""
        await self._settled.wait()

    @property
    def _next_seq(self) -> int:
        return self._base + len(self._unsettled)

    def _send(self, message: object) -> None:
        # A dead worker's pipe is closed (uvloop raises on a write to it): the message is
        # dropped, and the restart gives the new worker every filter and unsettled packet.
        stdin = self._proc.stdin if self._proc is not None else None
        if stdin is not None and not stdin.is_closing():
            stdin.write(frame(message))

    def _settle(self) -> None:
        """Forget the packets every subscriber has a verdict for."""
        done = min(self._last.values(), default=self._next_seq - 1)
        while self._unsettled and self._base <= done:
            self._unsettled.popleft()
            self._base += 1
        if self._unsettled:
            self._settled.clear()
        else:
            self._settled.set()

    async def run(self) -> None:
        """Hand verdicts to ``on_matched`` and replace a worker that dies or is killed, forever."""
        while not self._closed:
            try:
                await self._read_verdicts()
            except (asyncio.IncompleteReadError, ConnectionError, EOFError):
                if not self._closed:
                    await self._blame_and_restart()

    async def _read_verdicts(self) -> None:
        assert self._proc is not None
        assert self._proc.stdout is not None
        stdout = self._proc.stdout
        while True:
            size = int.from_bytes(await stdout.readexactly(4), "big")
            for sub_id, last, matched in pickle.loads(await stdout.readexactly(size)):
                self._verdict(sub_id, last, matched)
            self._settle()

    def _verdict(self, sub_id: int, last: int, matched: list[int]) -> None:
        previous = self._last.get(sub_id)
        if previous is None or last <= previous:  # dropped, or re-set, since
            return
        self._last[sub_id] = last
        packets = [self._unsettled[seq - self._base][1] for seq in matched if seq > previous]
        if packets:
            self.on_matched(sub_id, packets)

    async def _watch(self, proc: asyncio.subprocess.Process) -> None:
        """Kill the worker when one evaluation (as the progress file tells) overruns."""
        while True:
            record = PROGRESS.unpack_from(self._progress)
            started = record[2]
            if not started:  # between evaluations
                await asyncio.sleep(self.budget)
                continue
            left = started + self.budget - time.monotonic()
            if left > 0:
                await asyncio.sleep(left)
            elif PROGRESS.unpack_from(self._progress) == record:  # the same one: not torn
                self._overrun = record[0], record[1]
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                return

    async def _blame_and_restart(self) -> None:
        """Restart the worker; the subscriber whose filter it was evaluating loses its filters.

        A worker that was parsing a packet costs nobody their filters (that packet, given to
        the new worker as unreadable, matches nobody), and one between evaluations costs
        nobody anything; their log lines name no subscriber.
        """
        cause: Cause = "timeout" if self._overrun is not None else "crash"
        seq, sub_id = self._overrun or PROGRESS.unpack_from(self._progress)[:2]
        await self._kill()
        self.restarts += 1
        PROGRESS.pack_into(self._progress, 0, *BETWEEN)
        index = seq - self._base
        packet = self._unsettled[index] if 0 <= index < len(self._unsettled) else None
        ivorn = packet[1].ivorn if packet is not None else None
        if sub_id >= 0:
            self._blame(sub_id, cause, ivorn)
        elif packet is not None:
            self._unsettled[index] = (b"", packet[1])
            log.warning("filter.worker_restarted", packet=ivorn, cause=_OUTSIDE[cause])
        else:
            log.warning("filter.worker_restarted", cause="the filter worker died while idle")
        await self.start()

    def _blame(self, sub_id: int, cause: Cause, ivorn: str | None) -> None:
        culprit = self.filters.pop(sub_id, None)
        self._last.pop(sub_id, None)
        self._settle()
        if cause == "timeout":
            what = f"exceeded its {self.budget:g} s budget"
        else:
            what = "killed the filter worker"
        log.warning(
            "filter.worker_restarted",
            subscriber=sub_id,
            packet=ivorn,
            cause=what,
            filters=list(culprit or ()),
        )
        if culprit is not None:
            self.on_dropped(sub_id, cause, f"filter {what}: {list(culprit)}")

    async def _kill(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
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
        self._closed = True
        await self._kill()
        self._progress.close()
        self._progress_file.close()
        self._progress_path.unlink(missing_ok=True)

"""Import dumps and packet files: a worker process decompresses and parses while this one writes.

bzip2 and XML parsing cost about as much CPU as the database inserts, so running them in a
second process roughly doubles the import rate on two cores.  Batches (which may span
files: a folder of saved packets holds one per file) travel through a bounded queue, so
memory stays flat; the worker stops with its parent.
"""

from __future__ import annotations

import multiprocessing
import queue
import signal
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vohub.archive import sources
from vohub.archive.errors import TarballError
from vohub.archive.ingest import IngestResult, Outcome, PacketRows
from vohub.archive.progress import Progress
from vohub.archive.store import Store, prepare, utc_now


@dataclass(slots=True)
class Batch:
    """Prepared packets with their names, how many bytes of each file (by index) are read,
    and the files found unreadable or damaged (``PATH: reason``), whose rest is skipped."""

    names: list[str] = field(default_factory=list)
    prepared: list[PacketRows | IngestResult] = field(default_factory=list)
    done: dict[int, int] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Summary:
    """Outcome counts, one line per refused packet and per file that could not be read."""

    tally: Counter[Outcome] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    unreadable: int = 0

    def add_unreadable(self, failures: Sequence[str]) -> None:
        """Note files that could not be read (``PATH: reason`` each)."""
        self.unreadable += len(failures)
        self.problems.extend(f"  unreadable: {failure}" for failure in failures)

    def add(self, names: Sequence[str], results: Sequence[IngestResult]) -> None:
        """Count ``results`` (for members ``names``)."""
        for name, result in zip(names, results, strict=True):
            self.tally[result.outcome] += 1
            if result.outcome in (Outcome.INVALID, Outcome.CONFLICT):
                self.problems.append(f"  {result.outcome.value}: {name}: {result.reason}")

    def lines(self) -> list[str]:
        """The summary as printed at the end of an import.

        >>> Summary(Counter({Outcome.STORED: 2})).lines()
        ['imported 2, duplicates 0, conflicts 0, invalid 0']
        """
        t = self.tally
        head = (
            f"imported {t[Outcome.STORED]}, duplicates {t[Outcome.DUPLICATE]}, "
            f"conflicts {t[Outcome.CONFLICT]}, invalid {t[Outcome.INVALID]}"
        )
        return [head, *self.problems]


def _read(jobs: list[tuple[int, str]], size: int, out: Any) -> None:
    """Put the Batches of ``size`` packets on ``out``, then None.

    A file that cannot be read, or breaks off (a damaged dump), is named in the next batch's
    ``failed``; the packets read from it before are kept, and the next file is read.
    """
    batch = Batch()
    for index, path in jobs:
        try:
            for member in sources.read(Path(path)):
                batch.names.append(member.name)
                batch.prepared.append(
                    IngestResult("", Outcome.INVALID, member.refused)
                    if member.refused
                    else prepare(member.data, utc_now())
                )
                batch.done[index] = member.position
                if len(batch.names) >= size:
                    out.put(batch)
                    batch = Batch()
        except TarballError as error:
            batch.failed.append(str(error))
        batch.done[index] = _size(Path(path))
    out.put(batch)
    out.put(None)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0  # gone meanwhile: its reading failed, and says so


def _reader(jobs: list[tuple[int, str]], size: int, out: Any) -> None:
    """A reader process: :func:`_read`, leaving Ctrl-C to the importing process (which stops
    its readers) instead of each printing a KeyboardInterrupt traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _read(jobs, size, out)


def share(sizes: list[int], readers: int) -> list[list[int]]:
    """File indices per reader, largest files first to the least loaded reader.

    >>> share([1, 50, 40, 20], 2)
    [[1, 0], [2, 3]]
    """
    loads = [0] * readers
    shares: list[list[int]] = [[] for _ in range(readers)]
    for index in sorted(range(len(sizes)), key=lambda i: -sizes[i]):
        least = loads.index(min(loads))
        shares[least].append(index)
        loads[least] += sizes[index]
    return shares


#: Below this many compressed bytes a worker process costs more than it saves.
PARALLEL_FROM = 2_000_000


def import_files(
    store: Store,
    paths: Sequence[Path],
    *,
    batch: int = 1000,
    progress: Progress | None = None,
    parallel: bool | None = None,
    readers: int = 2,
    summary: Summary | None = None,
) -> Summary:
    """Import the dumps and packet files at ``paths`` into ``store`` (see :mod:`sources`).

    A file that cannot be read is listed in the summary (``unreadable``) and the other files
    are imported.  The outcomes are counted in ``summary`` (a new one by default) as batches
    are written, so an interrupted import's caller can still report what was done.

    ``parallel`` (default: for inputs over :data:`PARALLEL_FROM` bytes) reads and parses in
    up to ``readers`` worker processes, one file at a time each; batches are then written as
    they come, so when two files hold different content under one IVORN, which copy is kept
    (and which recorded as a conflict) depends on timing.
    """
    sizes = [p.stat().st_size for p in paths]
    if parallel is None:
        parallel = sum(sizes) >= PARALLEL_FROM
    tracker = _Tracker(store, sizes, progress, summary or Summary())
    if not parallel:
        inbox: Any = queue.SimpleQueue()
        _read([(i, str(p)) for i, p in enumerate(paths)], batch, inbox)
        while (item := _next(inbox, [])) is not None:
            tracker.write(item)
        return tracker.summary
    context = multiprocessing.get_context("spawn")
    inbox = context.Queue(maxsize=8)
    workers = []
    for indices in share(sizes, max(1, min(readers, len(paths)))):
        jobs = [(i, str(paths[i])) for i in indices]
        workers.append(context.Process(target=_reader, args=(jobs, batch, inbox), daemon=True))
    for worker in workers:
        worker.start()
    try:
        running = len(workers)
        while running:
            item = _next(inbox, workers)
            if item is None:
                running -= 1
            else:
                tracker.write(item)
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.terminate()
            worker.join()
    return tracker.summary


class _Tracker:
    """Writes batches, counts outcomes and moves the progress bar."""

    def __init__(
        self, store: Store, sizes: list[int], progress: Progress | None, summary: Summary
    ) -> None:
        self.store = store
        self.progress = progress
        self.summary = summary
        self.offsets = dict.fromkeys(range(len(sizes)), 0)

    def write(self, batch: Batch) -> None:
        self.summary.add(batch.names, self.store.write(batch.prepared, durable=False))
        self.summary.add_unreadable(batch.failed)
        self.offsets.update(batch.done)
        if self.progress is not None:
            done = sum(self.offsets.values())
            self.progress.update(done, packets=sum(self.summary.tally.values()))


def _next(inbox: Any, workers: list[Any]) -> Batch | None:
    while True:
        try:
            item = inbox.get(timeout=1.0)
        except queue.Empty:
            if workers and not any(w.is_alive() for w in workers):
                raise TarballError("import", "the reader processes died") from None
            continue
        return item  # type: ignore[no-any-return]

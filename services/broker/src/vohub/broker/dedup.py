"""The persistent "previously seen" store: IVORN → digest of the first bytes, with expiry.

vohub dedups by IVORN (not by the SHA-1 of the bytes, as Comet does), so a packet that
arrives over several routes or loops between brokers goes out once, and a different packet
under a known IVORN is caught as a *conflict*.

Theory of operation
-------------------
* ``check`` answers NEW, DUPLICATE (same IVORN, same digest) or CONFLICT (same IVORN,
  other digest). A NEW answer *reserves* the IVORN in memory, so a second copy arriving
  while the first is still being made durable is already a duplicate.
* ``commit`` writes the reserved rows in one SQLite transaction. The database runs in WAL
  mode with ``synchronous=NORMAL``: a committed transaction survives a killed process
  (it is in the WAL file) but may be lost on power failure; the broker covers that case by
  re-adding the spool's unforwarded records at start-up (:meth:`SeenStore.add`).
* ``release`` drops a reservation whose packet was finally not accepted.
* Rows older than the expiry are treated as absent and deleted by ``prune``.
* The WAL is folded into the database by ``checkpoint``, which the broker runs in a worker
  thread every few seconds, so no checkpoint fsync ever blocks the event loop.
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from vohub.broker.errors import SeenStoreUnusable

_SCHEMA = """
CREATE TABLE IF NOT EXISTS seen (
    ivorn TEXT PRIMARY KEY,
    digest BLOB NOT NULL,
    seen_at REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seen_by_time ON seen (seen_at);
"""


class Verdict(enum.Enum):
    """What the store knows of an IVORN."""

    NEW = "new"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"


def digest(data: bytes) -> bytes:
    """The 20-byte SHA-1 of ``data``, the fingerprint kept for each IVORN.

    >>> digest(b"<VOEvent/>").hex()[:8]
    'd3d82e5f'
    """
    return hashlib.sha1(data, usedforsecurity=False).digest()


def _open(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        # A checkpoint fsyncs the database; never on the committing (event loop) thread.
        db.execute("PRAGMA wal_autocheckpoint=0")
        db.executescript(_SCHEMA)
    except sqlite3.DatabaseError:
        db.close()
        raise
    return db


class SeenStore:
    """IVORN dedup state kept in SQLite at ``path``; :class:`SeenStoreUnusable` naming it if
    that is not a database this process can write.

    >>> import tempfile
    >>> store = SeenStore(Path(tempfile.mkdtemp()) / "seen.sqlite3", expiry=3600.0)
    >>> store.check("ivo://a.b/c#1", b"x" * 20)
    <Verdict.NEW: 'new'>
    >>> store.check("ivo://a.b/c#1", b"x" * 20)
    <Verdict.DUPLICATE: 'duplicate'>
    >>> store.commit()
    1
    >>> store.check("ivo://a.b/c#1", b"y" * 20)
    <Verdict.CONFLICT: 'conflict'>
    >>> store.close()
    """

    def __init__(
        self, path: Path, *, expiry: float, clock: Callable[[], float] = time.time
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.expiry = expiry
        self.clock = clock
        try:
            self._db = _open(path)
        except sqlite3.DatabaseError as exc:
            raise SeenStoreUnusable(str(path), f"cannot use the dedup database: {exc}") from None
        self._pending: dict[str, tuple[bytes, float]] = {}
        self._prefetched: dict[str, bytes | None] = {}

    def check(self, ivorn: str, fingerprint: bytes) -> Verdict:
        """Classify ``ivorn``; a NEW one is reserved until :meth:`commit` or :meth:`release`."""
        known = self.lookup(ivorn)
        if known is None:
            self._pending[ivorn] = (fingerprint, self.clock())
            return Verdict.NEW
        return Verdict.DUPLICATE if known == fingerprint else Verdict.CONFLICT

    def lookup(self, ivorn: str) -> bytes | None:
        """The digest first seen for ``ivorn`` (reserved or stored, not expired), or None."""
        pending = self._pending.get(ivorn)
        if pending is not None:
            return pending[0]
        if ivorn in self._prefetched:
            return self._prefetched.pop(ivorn)
        row = self._db.execute(
            "SELECT digest FROM seen WHERE ivorn = ? AND seen_at >= ?",
            (ivorn, self.clock() - self.expiry),
        ).fetchone()
        return None if row is None else bytes(row[0])

    def prefetch(self, ivorns: Sequence[str]) -> None:
        """Look ``ivorns`` up in one query; their next :meth:`lookup` answers from it.

        For a caller about to check several packets at once; it must :meth:`forget` the
        answers afterwards (any not used), before the store can change under them.
        """
        found: dict[str, bytes | None] = dict.fromkeys(ivorns)
        wanted, since = list(found), self.clock() - self.expiry
        for start in range(0, len(wanted), 500):  # well under SQLite's limit on parameters
            part = wanted[start : start + 500]
            marks = ",".join("?" * len(part))
            rows = self._db.execute(
                f"SELECT ivorn, digest FROM seen WHERE ivorn IN ({marks}) AND seen_at >= ?",
                (*part, since),
            )
            found.update((ivorn, bytes(known)) for ivorn, known in rows)
        self._prefetched = found

    def forget(self) -> None:
        """Drop what :meth:`prefetch` looked up and nobody asked for."""
        self._prefetched = {}

    def release(self, ivorn: str) -> None:
        """Forget the reservation of ``ivorn`` (its packet was not accepted after all)."""
        self._pending.pop(ivorn, None)

    def commit(self, ivorns: Iterable[str] | None = None) -> int:
        """Store the reserved ``ivorns`` (default: all) in one transaction; returns how many."""
        chosen = list(self._pending) if ivorns is None else ivorns
        rows = [(i, *self._pending.pop(i)) for i in chosen if i in self._pending]
        if rows:
            self._write(rows)
        return len(rows)

    def add(self, rows: Iterable[tuple[str, bytes, float]]) -> None:
        """Store ``(ivorn, digest, seen_at)`` rows at once, keeping existing ones."""
        self._write(list(rows))

    def _write(self, rows: list[tuple[str, bytes, float]]) -> None:
        self._db.execute("BEGIN")
        self._db.executemany(
            "INSERT INTO seen (ivorn, digest, seen_at) VALUES (?, ?, ?) "
            "ON CONFLICT (ivorn) DO UPDATE SET digest = excluded.digest, "
            "seen_at = excluded.seen_at WHERE seen.seen_at < ?",
            [(*row, self.clock() - self.expiry) for row in rows],
        )
        self._db.execute("COMMIT")

    def checkpoint(self) -> None:
        """Copy the WAL into the database (PASSIVE: never blocks writers); call it off-loop.

        Uses a connection of its own, so it can run in a worker thread while the broker
        keeps committing.
        """
        with contextlib.closing(sqlite3.connect(self.path, isolation_level=None)) as db:
            db.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def prune(self) -> int:
        """Delete expired rows; returns how many went."""
        cursor = self._db.execute(
            "DELETE FROM seen WHERE seen_at < ?", (self.clock() - self.expiry,)
        )
        return cursor.rowcount

    def __len__(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM seen").fetchone()[0])

    def close(self) -> None:
        """Close the database (reservations not committed are dropped)."""
        self._db.close()

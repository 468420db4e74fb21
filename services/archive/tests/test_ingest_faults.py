"""PostgreSQL failures during an ingest's COPY: a deadlock is run again, a lost connection is
UNAVAILABLE, any other refusal INTERNAL naming the batch (never the driver's own exception).

Each test holds a concurrent writer's transaction open on its own connection, so the store's
COPY waits on it at a known point; waits are on the server's own lock table, not on time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Set
from datetime import UTC, datetime

import pytest
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.pool import NullPool

from vohub.archive.errors import ArchiveUnavailable, BatchFailed
from vohub.archive.filters import PacketFilter
from vohub.archive.ingest import BatchWriter, IngestResult, to_rows
from vohub.archive.store import Store
from vohub.testing.archive import make_packet
from vohub.voevent.model import Packet

pytestmark = pytest.mark.postgres

RECEIVED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
X = make_packet("ivo://vohub.test/lock#x", positions=[(1.0, 2.0, 0.1)])
Y = make_packet("ivo://vohub.test/lock#y", positions=[(3.0, 4.0, 0.1)])
#: Where the server lists the backends waiting on another transaction's lock.
WAITING = text(
    "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
    " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
)


@pytest.fixture
def engine(migrated: Callable[[str, str], Engine], empty: Callable[[Engine], None]) -> Engine:
    engine = migrated("postgresql", "unit")
    empty(engine)
    return engine


@pytest.fixture
def watcher(engine: Engine) -> Iterator[Connection]:
    """An autocommit connection of its own, to look at (and end) other backends."""
    own = create_engine(engine.url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with own.connect() as connection:
        yield connection
    own.dispose()


def waiting_backend(watcher: Connection, other_than: Set[int] = frozenset()) -> int:
    """The pid of a backend waiting on a lock (not one of ``other_than``), once there is one."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = set(watcher.execute(WAITING).scalars()) - other_than
        if found:
            return found.pop()
        time.sleep(0.02)
    pytest.fail("no backend came to wait on the other writer's lock within 60 s")


class Ingest(threading.Thread):
    """``store.ingest_packets(packets)`` in a thread; its results or its exception after."""

    def __init__(self, store: Store, packets: list[Packet]) -> None:
        super().__init__(daemon=True)
        self.store, self.packets = store, packets
        self.results: list[IngestResult] | None = None
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            self.results = self.store.ingest_packets([(p, RECEIVED) for p in self.packets])
        except BaseException as error:  # noqa: BLE001 - handed to the test, which asserts on it
            self.error = error

    def outcome(self) -> list[IngestResult]:
        self.join(60)
        assert not self.is_alive(), "the ingest never finished"
        if self.error is not None:
            raise self.error
        assert self.results is not None
        return self.results


def test_a_deadlock_in_copy_is_run_again_and_stores_the_batch(
    engine: Engine, watcher: Connection
) -> None:
    """Two writers of the same new IVORNs in opposite orders: PostgreSQL aborts one with
    "deadlock detected", which escaped as the driver's exception (UNKNOWN over gRPC)."""
    store = Store(engine)
    with engine.connect() as other:
        other.begin()
        # The store's backend is the one to find the deadlock (and so its victim).
        other.exec_driver_sql("SET LOCAL deadlock_timeout = '60s'")
        BatchWriter(other, RECEIVED).write([to_rows(Y, RECEIVED)])
        ingest = Ingest(store, [X, Y])  # copies X, then waits on the other writer's Y
        waiting_backend(watcher)
        # Now the other writer waits on the store's X: a deadlock, the store's COPY aborted.
        assert [r.outcome for r in BatchWriter(other, RECEIVED).write([to_rows(X, RECEIVED)])] == [
            "stored"
        ]
        other.rollback()  # the store's second run, waiting on it, goes on
    assert [(r.ivorn, r.outcome) for r in ingest.outcome()] == [
        (X.ivorn, "stored"),
        (Y.ivorn, "stored"),
    ]
    assert [c.ra for c in store.synopsis(Y.ivorn).coords] == [3.0]


def test_a_connection_lost_during_copy_is_unavailable(engine: Engine, watcher: Connection) -> None:
    """The server ending the store's connection mid-COPY raised the driver's exception; now
    the call is run once more on a new connection, then answered ArchiveUnavailable."""
    store = Store(engine)
    with engine.connect() as other:
        other.begin()
        BatchWriter(other, RECEIVED).write([to_rows(Y, RECEIVED)])
        ingest = Ingest(store, [X, Y])
        ended: set[int] = set()
        for _ in range(2):  # the first run, then its one retry
            pid = waiting_backend(watcher, ended)
            watcher.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            ended.add(pid)
        with pytest.raises(ArchiveUnavailable, match=r"^postgresql://.*: database unavailable: "):
            ingest.outcome()
        other.rollback()
    [result] = store.ingest_packets([(X, RECEIVED)])  # the pool has recovered
    assert result.outcome == "stored"


def test_any_other_refusal_of_the_copy_is_a_batch_failure_naming_it(engine: Engine) -> None:
    """A value PostgreSQL cannot store (a NUL in text; no XML packet can carry one) failed
    with the driver's exception; now INTERNAL, naming the batch."""
    bad = make_packet("ivo://vohub.test/lock#nul", author_ivorn="ivo://a/b\x00")
    store = Store(engine)
    with pytest.raises(BatchFailed) as caught:
        store.ingest_packets([(X, RECEIVED), (bad, RECEIVED)])
    assert caught.value.code.name == "INTERNAL"
    assert str(caught.value).startswith(
        "batch of 2 packets ivo://vohub.test/lock#x .. ivo://vohub.test/lock#nul:"
        " the database refused to store it: invalid byte sequence"
    )
    assert store.count(PacketFilter()) == 0  # nothing of the batch kept

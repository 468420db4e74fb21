"""The IVORN dedup store: verdicts, reservations, persistence and expiry."""

from __future__ import annotations

from pathlib import Path

import pytest

from vohub.broker.dedup import SeenStore, Verdict, digest
from vohub.broker.errors import SeenStoreUnusable

IVORN = "ivo://vohub.test/unit#1"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_new_then_duplicate_then_conflict(tmp_path: Path) -> None:
    store = SeenStore(tmp_path / "seen.sqlite3", expiry=60)
    assert store.check(IVORN, digest(b"a")) is Verdict.NEW
    assert store.check(IVORN, digest(b"a")) is Verdict.DUPLICATE  # reserved, not yet committed
    assert store.check(IVORN, digest(b"b")) is Verdict.CONFLICT
    store.close()


def test_committed_ivorns_survive_a_reopen_but_uncommitted_do_not(tmp_path: Path) -> None:
    path = tmp_path / "seen.sqlite3"
    store = SeenStore(path, expiry=60)
    store.check(IVORN, digest(b"a"))
    store.check("ivo://vohub.test/unit#2", digest(b"b"))
    assert store.commit([IVORN]) == 1
    store.close()
    reopened = SeenStore(path, expiry=60)
    assert reopened.lookup(IVORN) == digest(b"a")
    assert reopened.lookup("ivo://vohub.test/unit#2") is None
    assert len(reopened) == 1
    reopened.close()


def test_release_forgets_a_reservation(tmp_path: Path) -> None:
    store = SeenStore(tmp_path / "seen.sqlite3", expiry=60)
    store.check(IVORN, digest(b"a"))
    store.release(IVORN)
    assert store.check(IVORN, digest(b"b")) is Verdict.NEW
    store.close()


def test_entries_expire_and_are_pruned(tmp_path: Path) -> None:
    clock = Clock()
    store = SeenStore(tmp_path / "seen.sqlite3", expiry=30 * 86400, clock=clock)
    store.check(IVORN, digest(b"a"))
    store.commit()
    clock.now += 29 * 86400
    assert store.check(IVORN, digest(b"a")) is Verdict.DUPLICATE
    clock.now += 2 * 86400
    assert store.lookup(IVORN) is None
    assert store.prune() == 1
    assert store.check(IVORN, digest(b"other")) is Verdict.NEW
    store.commit()
    assert store.lookup(IVORN) == digest(b"other")
    store.close()


def test_add_keeps_the_first_unexpired_copy(tmp_path: Path) -> None:
    store = SeenStore(tmp_path / "seen.sqlite3", expiry=60)
    store.add([(IVORN, digest(b"a"), store.clock())])
    store.add([(IVORN, digest(b"b"), store.clock())])
    assert store.lookup(IVORN) == digest(b"a")
    store.close()


def test_a_checkpoint_from_another_thread_keeps_every_row(tmp_path: Path) -> None:
    import threading

    path = tmp_path / "seen.sqlite3"
    store = SeenStore(path, expiry=60)
    for i in range(50):
        store.check(f"ivo://vohub.test/unit#{i}", digest(b"x"))
    store.commit()
    worker = threading.Thread(target=store.checkpoint)
    worker.start()
    worker.join()
    store.close()
    assert len(SeenStore(path, expiry=60)) == 50


def test_prefetched_answers_are_the_stored_ones_and_are_forgotten(tmp_path: Path) -> None:
    store = SeenStore(tmp_path / "seen.sqlite3", expiry=3600.0)
    store.check("ivo://a.b/c#old", b"o" * 20)
    store.commit()
    store.prefetch(["ivo://a.b/c#old", "ivo://a.b/c#new", "ivo://a.b/c#new"])
    assert store.check("ivo://a.b/c#old", b"o" * 20) is Verdict.DUPLICATE
    assert store.check("ivo://a.b/c#new", b"n" * 20) is Verdict.NEW
    assert store.check("ivo://a.b/c#new", b"m" * 20) is Verdict.CONFLICT  # reserved meanwhile
    store.forget()
    store.commit()
    assert store.check("ivo://a.b/c#new", b"n" * 20) is Verdict.DUPLICATE
    store.close()


def test_a_file_that_is_not_a_database_is_an_error_naming_it(tmp_path: Path) -> None:
    """It was an uncaught sqlite3.DatabaseError, naming nothing."""
    path = tmp_path / "seen.sqlite3"
    path.write_text("not sqlite\n")
    with pytest.raises(SeenStoreUnusable) as caught:
        SeenStore(path, expiry=60)
    assert str(caught.value) == f"{path}: cannot use the dedup database: file is not a database"
    assert path.read_text() == "not sqlite\n"  # left as found, for whoever looks into it

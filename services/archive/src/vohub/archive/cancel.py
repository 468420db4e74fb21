"""Stop the database query of an rpc whose caller has gone (its deadline passed, or it cancelled).

The servicer opens a :class:`Call` around each rpc's store work (:func:`cancellable`) and makes
:meth:`Call.cancel` the rpc's termination callback. While the call is open, the store records
the connection it is reading on (:meth:`Call.use`), and ``cancel`` interrupts the statement
running there: PostgreSQL's cancel request, SQLite's ``interrupt()``. A query the gateway has
given up on would otherwise run to its end, holding a database backend and a servicer thread.
Once the call is closed, or between two reads, a late callback does nothing, so it can never
stop another rpc's query.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

_local = threading.local()


class Call:
    """One rpc's store work, which its termination callback may interrupt.

    >>> call = Call()
    >>> call.cancel(), call.cancelled
    (None, False)
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connection: Any = None
        self._open = True
        self.cancelled = False

    def use(self, dbapi_connection: Any) -> None:
        """Record the DB-API connection the work reads on now (None: it reads on none)."""
        with self._lock:
            self._connection = dbapi_connection if self._open else None

    def cancel(self) -> None:
        """Interrupt the statement running on the recorded connection, if any."""
        with self._lock:
            if self._connection is None:
                return
            self.cancelled = True
            interrupt(self._connection)

    def close(self) -> None:
        """The work is over: later calls of :meth:`cancel` do nothing."""
        with self._lock:
            self._open = False
            self._connection = None


@contextlib.contextmanager
def cancellable() -> Iterator[Call]:
    """A :class:`Call` that this thread's store reads record their connections in.

    >>> with cancellable() as call:
    ...     current() is call
    True
    >>> current() is None
    True
    """
    call = Call()
    _local.call = call
    try:
        yield call
    finally:
        call.close()
        _local.call = None


def current() -> Call | None:
    """The open :class:`Call` of this thread, if any.

    >>> current() is None
    True
    """
    found: Call | None = getattr(_local, "call", None)
    return found


def interrupt(dbapi_connection: Any) -> None:
    """Stop the statement running on ``dbapi_connection``, from any thread.

    The statement then fails on its own thread (SQLite: "interrupted"; PostgreSQL: "canceling
    statement due to user request"); the connection stays usable.

    >>> import sqlite3
    >>> interrupt(sqlite3.connect(":memory:"))  # nothing running: nothing happens
    """
    if hasattr(dbapi_connection, "interrupt"):  # sqlite3
        dbapi_connection.interrupt()
    else:  # psycopg2 and psycopg send PostgreSQL's cancel request
        dbapi_connection.cancel()

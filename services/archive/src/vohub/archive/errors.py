"""The exceptions of :mod:`vohub.archive`, each naming its culprit and carrying its gRPC code."""

from __future__ import annotations

import grpc


class ArchiveError(Exception):
    """Base of this package's errors; never raised itself.

    ``code`` is the gRPC status the service answers with; ``culprit`` names the field,
    IVORN, key or database at fault.
    """

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL

    def __init__(self, culprit: str, message: str) -> None:
        if type(self) is ArchiveError:
            raise TypeError("ArchiveError is abstract; raise one of its subclasses")
        self.culprit = culprit
        self.message = message
        super().__init__(f"{culprit}: {message}")


class ArchiveUnavailable(ArchiveError):
    """The database cannot be reached or refused the connection (callers retry).

    ``stale`` is true when a pooled connection turned out to be dead (the server restarted
    since it was opened): the pool has been renewed and one retry normally succeeds.
    """

    code = grpc.StatusCode.UNAVAILABLE

    def __init__(self, culprit: str, message: str, *, stale: bool = False) -> None:
        super().__init__(culprit, message)
        self.stale = stale


class TransactionConflict(ArchiveUnavailable):
    """The database aborted the transaction to let a concurrent one go on: a deadlock or a
    serialization failure (SQLSTATE 40P01 or 40001).  The store runs the call again (ingest
    is idempotent by IVORN); if it keeps failing, the rpc answers UNAVAILABLE."""


class BatchFailed(ArchiveError):
    """The database refused to store a batch for a reason that is neither the connection nor
    a concurrent writer (a bad packet is refused alone, as INVALID, before this); ``culprit``
    names the batch by its size and first and last IVORNs.

    >>> BatchFailed("batch of 2 packets ivo://a/b#1 .. ivo://a/b#2", "disk full").code.name
    'INTERNAL'
    """

    code = grpc.StatusCode.INTERNAL


class InvalidQuery(ArchiveError):
    """A request field holds a value the archive cannot answer; ``culprit`` is the field."""

    code = grpc.StatusCode.INVALID_ARGUMENT


class PacketNotFound(ArchiveError):
    """No packet with this IVORN is archived."""

    code = grpc.StatusCode.NOT_FOUND

    def __init__(self, ivorn: str) -> None:
        super().__init__(ivorn, "no such packet in the archive")


class CallerGone(ArchiveError):
    """The rpc's caller went (deadline passed, or cancelled) before its answer; ``culprit`` is
    the rpc, whose query was stopped.

    >>> str(CallerGone("Map"))
    'Map: the caller has gone; its query was stopped'
    """

    code = grpc.StatusCode.CANCELLED

    def __init__(self, rpc: str) -> None:
        super().__init__(rpc, "the caller has gone; its query was stopped")


class TarballError(ArchiveError):
    """A dump tarball cannot be read or written, or a file or folder to import cannot be read;
    ``culprit`` is the path."""


class ArchiveUnusable(ArchiveError):
    """The configured database cannot hold the archive until the operator acts (corrects the
    configuration, the folder or the database); retrying will not help, so a command exits
    with status 2, as for a configuration error, and a service stops."""

    code = grpc.StatusCode.FAILED_PRECONDITION


class SchemaOutOfDate(ArchiveUnusable):
    """The database schema is not at the revision this code needs (run ``migrate``)."""


class MigrationFailed(ArchiveUnusable):
    """The archive's schema cannot be created or upgraded in this database (for one, the user
    may not create tables)."""


class ForeignDatabase(MigrationFailed):
    """The database holds tables named like the archive's but no archive schema version: it
    is some other application's (voeventdb's, typically), and migrating would fail or harm it.
    """


class DatabaseMissing(ArchiveUnusable):
    """The PostgreSQL server has no database of the configured name (it is not created: the
    name may be mistyped); ``culprit`` is the database URL."""


class StorageUnusable(ArchiveUnusable):
    """The embedded database's folder cannot be created or written in, or its file cannot be
    opened for writing (a file in the way, a read-only file system, no permission);
    ``culprit`` is the folder or the file, the message the system's reason."""

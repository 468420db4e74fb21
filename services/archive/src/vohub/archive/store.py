"""The archive facade: ingest packets and answer count, list, map, synopsis and XML queries.

Every method opens its own short transaction; database failures surface as
:class:`ArchiveUnavailable`.  Maps (and counts) whose filter uses only stream, role and
stream prefix are answered from the rollup table; any other filter runs on ``voevent``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Select, bindparam, exc, func, select

from vohub.archive import cancel, cursor, synopsis
from vohub.archive.db import make_engine, reachable, reader, retry_stale
from vohub.archive.errors import BatchFailed, InvalidQuery, PacketNotFound
from vohub.archive.filters import ListKind, MapKind, Order, PacketFilter, check_text
from vohub.archive.ingest import (
    BatchWriter,
    IngestResult,
    InvalidPacket,
    Outcome,
    PacketRows,
    to_rows,
)
from vohub.archive.query import (
    bound_list,
    coord_count,
    count_query,
    list_query,
    map_query,
    rollup_count_query,
    rollup_map_query,
    voevent,
)
from vohub.archive.synopsis import Synopsis
from vohub.common.logs import get_logger
from vohub.voevent import parse
from vohub.voevent.errors import VOEventError
from vohub.voevent.model import Packet

log = get_logger(__name__)

#: Bytes → Packet (``vohub.voevent.parse`` in lenient mode by default).
Parser = Callable[[bytes], Packet]
Clock = Callable[[], datetime]

#: Largest page a List may ask for (apiv1's MAX_QUERY_LIMIT).
MAX_LIST_LIMIT = 10_000
#: Largest List offset: the databases' BIGINT (the rpc's field is a uint64).
MAX_OFFSET = 2**63 - 1


def lenient_parse(raw: bytes) -> Packet:
    """Parse a packet as the archive does: lenient, VOEvent 1.1 and 2.x alike."""
    return parse(raw, strict=False)


def utc_now() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


def prepare(
    raw: bytes, received: datetime, parse: Parser = lenient_parse
) -> PacketRows | IngestResult:
    """Parse one packet into rows, or its INVALID result; pure, so any process may run it."""
    try:
        packet = parse(raw)
        return to_rows(packet, received)
    except VOEventError as error:
        return IngestResult("", Outcome.INVALID, error.nak_reason)
    except InvalidPacket as error:
        return IngestResult(packet.ivorn, Outcome.INVALID, str(error))


# Built once: one packet's lookups are the most frequent reads, and building the statement
# anew on every call cost as much CPU as running it.
_ID_BY_IVORN = select(voevent.c.id).where(voevent.c.ivorn == bindparam("ivorn"))
_XML_BY_IVORN = select(voevent.c.xml).where(voevent.c.ivorn == bindparam("ivorn"))


@dataclass(slots=True)
class ListRow:
    """One listed packet: IVORN, nrefs/ncites count (0 otherwise), synopsis for that kind.

    Not frozen: a page builds a hundred of them, and a frozen dataclass costs an
    ``object.__setattr__`` per field.
    """

    ivorn: str
    count: int = 0
    synopsis: Synopsis | None = None


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a list and the cursor of the next ("" after the last page)."""

    rows: list[ListRow]
    next_cursor: str = ""


@dataclass(frozen=True, slots=True)
class MapRow:
    """One map group: key (None for packets with no author date), subkey (role) and count."""

    key: str | None
    subkey: str
    count: int


class Store:
    """The archive over one SQLAlchemy engine (SQLite or PostgreSQL, same behaviour)."""

    def __init__(
        self,
        engine: Engine,
        *,
        parse: Parser = lenient_parse,
        clock: Clock = utc_now,
        max_list_limit: int = MAX_LIST_LIMIT,
        use_rollup: bool = True,
    ) -> None:
        self.engine = engine
        self.reader = reader(engine)
        self.parse = parse
        self.clock = clock
        self.max_list_limit = max_list_limit
        self.use_rollup = use_rollup

    @classmethod
    def open(cls, url: str, **options: Any) -> Store:
        """A store on the database at ``url`` (already migrated)."""
        return cls(make_engine(url), **options)

    # -- ingest -------------------------------------------------------------------------------

    def ingest(self, items: Sequence[tuple[bytes, datetime | None]]) -> list[IngestResult]:
        """Parse and store a batch of (bytes, received) in one transaction; one result each."""
        return self.write([self.prepare(raw, received) for raw, received in items])

    def ingest_packets(
        self, packets: Sequence[tuple[Packet, datetime | None]]
    ) -> list[IngestResult]:
        """Store already-parsed packets (``packet.raw`` is what is kept) in one transaction."""
        return self.write([self._rows(packet, received) for packet, received in packets])

    def prepare(self, raw: bytes, received: datetime | None) -> PacketRows | IngestResult:
        """Parse one packet into rows, or its INVALID result (no database work)."""
        return prepare(raw, received or self.clock(), self.parse)

    def _rows(self, packet: Packet, received: datetime | None) -> PacketRows | IngestResult:
        try:
            return to_rows(packet, received or self.clock())
        except InvalidPacket as error:
            return IngestResult(packet.ivorn, Outcome.INVALID, str(error))

    @retry_stale
    def write(
        self, prepared: Sequence[PacketRows | IngestResult], *, durable: bool = True
    ) -> list[IngestResult]:
        """Store prepared packets in one transaction; results in order (INVALIDs pass through).

        ``durable=False`` (bulk imports, which are idempotent and can simply be run again)
        lets PostgreSQL acknowledge the commit before its WAL reaches the disk.
        """
        batch = [p for p in prepared if isinstance(p, PacketRows)]
        if not batch:
            return [p for p in prepared if isinstance(p, IngestResult)]
        engine = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        try:
            with reachable(self.engine), engine.begin() as connection:
                if not durable and connection.dialect.name == "postgresql":
                    connection.exec_driver_sql("SET LOCAL synchronous_commit = off")
                written = iter(BatchWriter(connection, self.clock()).write(batch))
        except exc.DBAPIError as error:  # reachable() took connection failures and conflicts
            raise _batch_failed(batch, error) from error
        return [next(written) if isinstance(p, PacketRows) else p for p in prepared]

    # -- queries ------------------------------------------------------------------------------

    @retry_stale
    def count(self, f: PacketFilter) -> int:
        """Number of packets matching ``f`` (always the length of the full list)."""
        f.validate()
        with self._read() as connection:
            if self.use_rollup and f.is_rollup_only():
                return int(connection.execute(rollup_count_query(f)).scalar_one())
            if f.is_coord_only():
                statement, params = coord_count(f, connection.dialect)
                return int(connection.execute(statement, params).scalar_one())
            query = count_query(f, connection.dialect)
            return int(connection.execute(query).scalar_one())

    @retry_stale
    def list_page(
        self,
        f: PacketFilter,
        *,
        order: Order = Order.ID,
        kind: ListKind = ListKind.IVORN,
        limit: int = 100,
        offset: int = 0,
        cursor_text: str = "",
    ) -> Page:
        """One page of matching packets in ``order``, by offset or after ``cursor_text``."""
        f.validate()
        if not 0 <= limit <= self.max_list_limit:
            raise InvalidQuery("limit", f"must be within [0, {self.max_list_limit}], not {limit}")
        if offset < 0:
            raise InvalidQuery("offset", f"must be >= 0, not {offset}")
        if offset > MAX_OFFSET:
            raise InvalidQuery("offset", f"must be <= {MAX_OFFSET}, not {offset}")
        after = cursor.decode(cursor_text, f, order) if cursor_text else None
        if limit == 0:
            return Page([])
        with self._read() as connection:
            dialect, n = connection.dialect, limit + 1
            bound = None
            if after is None:
                bound = bound_list(f, dialect, order=order, kind=kind, limit=n, offset=offset)
            if bound is None:
                query = list_query(
                    f, dialect, order=order, kind=kind, limit=n, offset=offset, after=after
                )
                bound = query, {}
            # (id, ivorn, order key, count) rows, unpacked by position: a Row's access by name
            # costs five times as much, a hundred times a page.
            found = connection.execute(*bound).all()
            page = found[:limit]
            if kind is ListKind.SYNOPSIS:
                details = synopsis.load(connection, [i for i, *_ in page]) if page else {}
                rows = [ListRow(ivorn, n, details.get(i)) for i, ivorn, _, n in page]
            else:
                rows = [ListRow(ivorn, n) for _, ivorn, _, n in page]
        more = len(found) > limit
        next_cursor = cursor.encode(f, order, page[-1][2], page[-1][0]) if more else ""
        return Page(rows, next_cursor)

    @retry_stale
    def map(self, f: PacketFilter, kind: MapKind) -> list[MapRow]:
        """Counts of matching packets per group, sorted by key (no-date month last)."""
        f.validate()
        with self._read() as connection:
            if self.use_rollup and f.is_rollup_only():
                found = connection.execute(rollup_map_query(f, kind)).all()
            else:
                query = map_query(f, connection.dialect, kind)
                found = connection.execute(query).all()
        rows = [MapRow(key or None, sub or "", int(n)) for key, sub, n in found]
        return sorted(rows, key=lambda r: (r.key is None, r.key or "", r.subkey))

    @retry_stale
    def synopsis(self, ivorn: str) -> Synopsis:
        """Everything about one packet but its XML; :class:`PacketNotFound` if absent."""
        check_text("ivorn", ivorn)
        with self._read() as connection:
            row_id = connection.execute(_ID_BY_IVORN, {"ivorn": ivorn}).scalar_one_or_none()
            if row_id is None:
                raise PacketNotFound(ivorn)
            return synopsis.load(connection, [row_id])[row_id]

    @retry_stale
    def xml(self, ivorn: str) -> bytes:
        """The packet's bytes exactly as first received; :class:`PacketNotFound` if absent."""
        check_text("ivorn", ivorn)
        with self._read() as connection:
            found = connection.execute(_XML_BY_IVORN, {"ivorn": ivorn}).scalar_one_or_none()
        if found is None:
            raise PacketNotFound(ivorn)
        return bytes(found)

    def dump(
        self, since: datetime | None = None, until: datetime | None = None, *, chunk: int = 1000
    ) -> Iterator[tuple[str, bytes]]:
        """(IVORN, bytes) of packets with ``since <= author date < until``, in id order.

        With neither bound every packet is dumped, including those with no author date.
        """
        last_id = 0
        while True:
            query = _authored_in(
                select(voevent.c.id, voevent.c.ivorn, voevent.c.xml).where(voevent.c.id > last_id),
                since,
                until,
            )
            with self._read() as connection:
                rows = connection.execute(query.order_by(voevent.c.id).limit(chunk)).all()
            if not rows:
                return
            for row in rows:
                yield row.ivorn, bytes(row.xml)
            last_id = rows[-1].id

    def dump_size(self, since: datetime | None = None, until: datetime | None = None) -> int:
        """How many packets :meth:`dump` yields with the same bounds."""
        query = _authored_in(select(func.count()).select_from(voevent), since, until)
        with self._read() as connection:
            return int(connection.execute(query).scalar_one())

    @contextlib.contextmanager
    def _read(self) -> Iterator[Connection]:
        """A connection in autocommit: reads need no transaction (no BEGIN, no ROLLBACK).

        Inside :func:`cancel.cancellable`, the rpc's termination may interrupt its statement.
        """
        call = cancel.current()
        with reachable(self.engine), self.reader.connect() as connection:
            if call is None:
                yield connection
                return
            call.use(connection.connection.dbapi_connection)
            try:
                yield connection
            finally:
                call.use(None)


def _batch_failed(batch: Sequence[PacketRows], error: exc.DBAPIError) -> BatchFailed:
    """The :class:`BatchFailed` for the database's refusal of ``batch``, logged."""
    culprit = f"batch of {len(batch)} packets {batch[0].ivorn} .. {batch[-1].ivorn}"
    reason = str(error.orig or error).strip().splitlines()[0]
    log.error("ingest.failed", batch=culprit, reason=reason)
    return BatchFailed(culprit, f"the database refused to store it: {reason}")


def _authored_in(query: Select[Any], since: datetime | None, until: datetime | None) -> Select[Any]:
    """``query`` restricted to packets with ``since <= author date < until`` (either optional)."""
    if since is not None:
        query = query.where(voevent.c.author_datetime >= since)
    if until is not None:
        query = query.where(voevent.c.author_datetime < until)
    return query

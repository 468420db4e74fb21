"""Turn parsed packets into archive rows (voeventdb's rules) and write a batch idempotently.

Coordinates follow voeventdb's ingest: only the six UTC/TDB FK5/ICRS systems it accepts,
``deg`` units and an error radius are stored; any bad position drops all of the packet's
positions (the packet itself is kept); ``com.dc3/dc3.broker`` and GCN's dummy positions
(``Coords_String`` = ``unavailable/inappropriate``) are never stored.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Insert, exc, select
from sqlalchemy import text as sql
from sqlalchemy.dialects import postgresql, sqlite

from vohub.archive import pgcopy
from vohub.archive.query import cite, conflict, coord, rollup, voevent
from vohub.archive.sky import coord_sky, sky_rows
from vohub.common.logs import get_logger
from vohub.voevent import canonical_xml
from vohub.voevent.model import CITE_TYPES, ROLES, Packet, Position

log = get_logger(__name__)

#: Coordinate systems voeventdb stores (FK5 = ICRS, GEO = TOPO = BARY: no transformation).
ACCEPTED_SYSTEMS = frozenset(
    f"{scale}-{frame}-{origin}"
    for scale, origin in (("UTC", "GEO"), ("UTC", "TOPO"), ("TDB", "BARY"))
    for frame in ("FK5", "ICRS")
)
#: GCN's placeholder for "no position": such packets carry a dummy (0, 0).
GCN_NO_POSITION = "unavailable/inappropriate"


class Outcome(StrEnum):
    """What ingest did with one packet."""

    STORED = "stored"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class IngestResult:
    """The outcome for one packet of a batch; ``ivorn`` is "" when it could not be read."""

    ivorn: str
    outcome: Outcome
    reason: str = ""


class InvalidPacket(ValueError):
    """A parsed packet the archive refuses (unknown role or citation type)."""


@dataclass(slots=True)
class PacketRows:
    """The rows of one packet, ready to insert."""

    ivorn: str
    raw: bytes
    voevent: dict[str, Any]
    coords: list[dict[str, Any]] = field(default_factory=list)
    cites: list[dict[str, Any]] = field(default_factory=list)

    @property
    def rollup_key(self) -> tuple[str, str, str]:
        """(stream, role, month) with month "" for a packet with no author date."""
        stamp: datetime | None = self.voevent["author_datetime"]
        month = f"{stamp.year:04d}-{stamp.month:02d}" if stamp is not None else ""
        return (self.voevent["stream"], self.voevent["role"], month)


def to_rows(packet: Packet, received: datetime) -> PacketRows:
    """The voevent, coord and cite rows of ``packet``; raises :class:`InvalidPacket`."""
    if packet.role not in ROLES:
        raise InvalidPacket(f"{packet.ivorn}: role {packet.role!r} is not one of {ROLES}")
    row = {
        "received": received,
        "ivorn": packet.ivorn,
        "stream": packet.stream,
        "role": packet.role,
        "version": packet.version,
        "author_ivorn": packet.author_ivorn,
        "author_datetime": packet.author_datetime,
        "xml": packet.raw,
    }
    return PacketRows(packet.ivorn, packet.raw, row, coord_rows(packet), cite_rows(packet))


def cite_rows(packet: Packet) -> list[dict[str, Any]]:
    """One row per non-empty cited IVORN, in document order."""
    rows = []
    for citation in packet.citations:
        if not citation.ivorn.strip():
            continue
        if citation.cite not in CITE_TYPES:
            raise InvalidPacket(
                f"{packet.ivorn}: citation of {citation.ivorn} has cite type "
                f"{citation.cite!r}, not one of {CITE_TYPES}"
            )
        rows.append(
            {
                "ref_ivorn": citation.ivorn.strip(),
                "cite_type": citation.cite,
                "description": citation.description,
            }
        )
    return rows


def coord_rows(packet: Packet) -> list[dict[str, Any]]:
    """The positions voeventdb would store for ``packet`` (possibly none)."""
    if not packet.positions or _suppressed(packet):
        return []
    system = packet.positions[0].coord_system
    problem = next(filter(None, (_problem(p, system) for p in packet.positions)), None)
    if problem is not None:
        log.debug("coords.dropped", ivorn=packet.ivorn, reason=problem)
        return []
    authored = packet.author_datetime
    return [
        {"ra": p.ra, "dec": p.dec, "error": p.error, "time": p.time, "author_datetime": authored}
        for p in packet.positions
    ]


def _suppressed(packet: Packet) -> bool:
    if packet.stream == "com.dc3/dc3.broker":
        return True
    if packet.stream.split("/", 1)[0] != "nasa.gsfc.gcn":
        return False
    dummy = packet.param("Coords_String")
    return dummy is not None and dummy.value == GCN_NO_POSITION


def _problem(position: Position, system: str | None) -> str | None:
    if system not in ACCEPTED_SYSTEMS:
        return f"coordinate system {system!r} not supported"
    if position.unit != "deg":
        return f"position unit {position.unit!r} is not deg"
    if position.ra is None or position.dec is None:
        return "position has no RA/Dec"
    if position.error is None:
        return "position has no Error2Radius"
    return None


#: Column lists of the COPY path (PostgreSQL), in the order the encoders below emit them.
VOEVENT_COLUMNS = (
    "id",
    "received",
    "ivorn",
    "stream",
    "role",
    "version",
    "author_ivorn",
    "author_datetime",
    "xml",
)
COORD_COLUMNS = ("voevent_id", "ra", "dec", "error", "time", "author_datetime")
CITE_COLUMNS = ("voevent_id", "ref_ivorn", "cite_type", "description")
NEXT_IDS = sql(
    "SELECT nextval(pg_get_serial_sequence('voevent', 'id')) FROM generate_series(1, :n)"
)


def _voevent_copy(row_id: int, v: dict[str, Any]) -> bytes:
    return pgcopy.row(
        (
            pgcopy.int4(row_id),
            pgcopy.timestamptz(v["received"]),
            pgcopy.text(v["ivorn"]),
            pgcopy.text(v["stream"]),
            pgcopy.text(v["role"]),
            pgcopy.text(v["version"]),
            pgcopy.text(v["author_ivorn"]),
            pgcopy.timestamptz(v["author_datetime"]),
            pgcopy.bytea(v["xml"]),
        )
    )


def _coord_fields(voevent_id: int, c: dict[str, Any]) -> tuple[bytes, ...]:
    return (
        pgcopy.int4(voevent_id),
        pgcopy.float8(c["ra"]),
        pgcopy.float8(c["dec"]),
        pgcopy.float8(c["error"]),
        pgcopy.timestamptz(c["time"]),
        pgcopy.timestamptz(c["author_datetime"]),
    )


def _cite_fields(voevent_id: int, c: dict[str, Any]) -> tuple[bytes, ...]:
    return (
        pgcopy.int4(voevent_id),
        pgcopy.text(c["ref_ivorn"]),
        pgcopy.text(c["cite_type"]),
        pgcopy.text(c["description"]),
    )


def digest(raw: bytes) -> str:
    """SHA-256 hex digest of a packet's bytes (identifies conflicting copies).

    >>> digest(b"")[:12]
    'e3b0c44298fc'
    """
    return hashlib.sha256(raw).hexdigest()


def _same_content(first: bytes, rows: PacketRows) -> bool:
    """Whether ``rows`` is ``first`` serialised differently (as in voeventdb's dumps)."""
    return canonical_xml(first, f"stored {rows.ivorn}") == canonical_xml(rows.raw, rows.ivorn)


def _insert(connection: Connection, table: Any) -> Any:
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


class BatchWriter:
    """Writes prepared packets in the caller's transaction and reports each one's outcome.

    Idempotent by IVORN: a packet whose IVORN is stored with the same content is a duplicate
    (the same bytes, or the same canonical XML: voeventdb's dumps hold every packet
    re-serialised); with other content, a conflict whose bytes go to ``conflict`` (once per
    distinct copy).
    Inserts use ``ON CONFLICT DO NOTHING``, so a concurrent writer of the same IVORN makes
    this one see a duplicate or conflict.  Two writers of the same new IVORNs in different
    orders can still deadlock: PostgreSQL then aborts one, whose whole transaction
    :meth:`Store.write <vohub.archive.store.Store.write>` runs again
    (:class:`~vohub.archive.errors.TransactionConflict`).
    """

    def __init__(self, connection: Connection, received: datetime) -> None:
        self.connection = connection
        self.received = received

    def write(self, batch: Sequence[PacketRows]) -> list[IngestResult]:
        """Store ``batch`` (in order) and return one result per packet."""
        first: dict[str, PacketRows] = {}
        for rows in batch:
            first.setdefault(rows.ivorn, rows)
        known = self._stored_bytes(list(first))
        fresh = [rows for ivorn, rows in first.items() if ivorn not in known]
        stored = self._insert_packets(fresh)
        raced = [rows.ivorn for rows in fresh if rows.ivorn not in stored]
        known.update(self._stored_bytes(raced))
        results = [self._classify(rows, stored, known) for rows in batch]
        self._record_conflicts(batch, results)
        return results

    def _classify(
        self, rows: PacketRows, stored: dict[str, PacketRows], known: dict[str, bytes]
    ) -> IngestResult:
        if stored.get(rows.ivorn) is rows:
            return IngestResult(rows.ivorn, Outcome.STORED)
        first = stored[rows.ivorn].raw if rows.ivorn in stored else known[rows.ivorn]
        if first == rows.raw or _same_content(first, rows):
            return IngestResult(rows.ivorn, Outcome.DUPLICATE)
        reason = f"{rows.ivorn}: already archived with different content; first copy kept"
        return IngestResult(rows.ivorn, Outcome.CONFLICT, reason)

    def _stored_bytes(self, ivorns: list[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        for start in range(0, len(ivorns), 500):
            chunk = ivorns[start : start + 500]
            query = select(voevent.c.ivorn, voevent.c.xml).where(voevent.c.ivorn.in_(chunk))
            found.update((ivorn, bytes(xml)) for ivorn, xml in self.connection.execute(query))
        return found

    def _insert_packets(self, fresh: list[PacketRows]) -> dict[str, PacketRows]:
        if not fresh:
            return {}
        if self.connection.dialect.name == "postgresql":
            copied = self._copy_packets(fresh)
            if copied is not None:
                return copied
        statement: Insert = _insert(self.connection, voevent).on_conflict_do_nothing(
            index_elements=["ivorn"]
        )
        returned = self.connection.execute(
            statement.returning(voevent.c.id, voevent.c.ivorn), [r.voevent for r in fresh]
        )
        ids = {ivorn: row_id for row_id, ivorn in returned}
        stored = {r.ivorn: r for r in fresh if r.ivorn in ids}
        self._insert_children(stored, ids)
        self._bump_rollup(stored.values())
        return stored

    def _copy_packets(self, fresh: list[PacketRows]) -> dict[str, PacketRows] | None:
        """COPY the batch with ids taken from the sequence; None if an IVORN was taken meanwhile.

        The caller checked that no IVORN is stored; a concurrent writer may still store one
        first, and then COPY fails on the unique index: the savepoint is rolled back and the
        batch goes through ``INSERT ... ON CONFLICT DO NOTHING`` instead.
        """
        ids = sorted(self.connection.execute(NEXT_IDS, {"n": len(fresh)}).scalars())
        savepoint = self.connection.begin_nested()
        try:
            pgcopy.copy_rows(
                self.connection,
                "voevent",
                VOEVENT_COLUMNS,
                (_voevent_copy(row_id, r.voevent) for row_id, r in zip(ids, fresh, strict=True)),
            )
        except exc.IntegrityError:  # the unique IVORN: another writer got there first
            savepoint.rollback()
            return None
        savepoint.commit()
        stored = {r.ivorn: r for r in fresh}
        by_ivorn = {r.ivorn: row_id for row_id, r in zip(ids, fresh, strict=True)}
        coords = [pgcopy.row(_coord_fields(by_ivorn[r.ivorn], c)) for r in fresh for c in r.coords]
        cites = [pgcopy.row(_cite_fields(by_ivorn[r.ivorn], c)) for r in fresh for c in r.cites]
        if coords:
            pgcopy.copy_rows(self.connection, "coord", COORD_COLUMNS, coords)
        if cites:
            pgcopy.copy_rows(self.connection, "cite", CITE_COLUMNS, cites)
        self._bump_rollup(stored.values())
        return stored

    def _insert_children(self, stored: dict[str, PacketRows], ids: dict[str, int]) -> None:
        coords = [{**c, "voevent_id": ids[i]} for i, r in stored.items() for c in r.coords]
        cites = [{**c, "voevent_id": ids[i]} for i, r in stored.items() for c in r.cites]
        if cites:
            self.connection.execute(cite.insert(), cites)
        if not coords:
            return
        if self.connection.dialect.name == "postgresql":
            self.connection.execute(coord.insert(), coords)
            return
        returning = coord.insert().returning(coord.c.id, coord.c.ra, coord.c.dec)
        points = [tuple(row) for row in self.connection.execute(returning, coords)]
        self.connection.execute(coord_sky.insert(), sky_rows(points))

    def _bump_rollup(self, stored: Any) -> None:
        counts = Counter(rows.rollup_key for rows in stored)
        if not counts:
            return
        # Sorted, so concurrent writers lock rollup rows in one order (no deadlock).
        values = [
            {"stream": s, "role": r, "month": m, "n": n} for (s, r, m), n in sorted(counts.items())
        ]
        statement = _insert(self.connection, rollup)
        upsert = statement.on_conflict_do_update(
            index_elements=["stream", "role", "month"],
            set_={"n": rollup.c.n + statement.excluded.n},
        )
        self.connection.execute(upsert, values)

    def _record_conflicts(self, batch: Sequence[PacketRows], results: list[IngestResult]) -> None:
        rows = {
            (r.ivorn, digest(r.raw)): r.raw
            for r, result in zip(batch, results, strict=True)
            if result.outcome is Outcome.CONFLICT
        }
        if not rows:
            return
        values = [
            {"ivorn": i, "digest": d, "xml": raw, "received": self.received}
            for (i, d), raw in rows.items()
        ]
        statement = _insert(self.connection, conflict).on_conflict_do_nothing(
            index_elements=["ivorn", "digest"]
        )
        self.connection.execute(statement, values)
        for ivorn, _ in rows:
            log.warning("ingest.conflict", ivorn=ivorn, reason="other content under known IVORN")

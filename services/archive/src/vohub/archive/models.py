"""The archive's tables: one declarative base whose metadata Alembic migrates.

``voevent``, ``coord`` and ``cite`` keep voeventdb's names and columns (so its queries carry
over); ``conflict`` records packets refused because their IVORN was taken by other bytes, and
``rollup`` holds packet counts per stream × role × authored month, kept at ingest, so maps
answer without scanning ``voevent``.  On SQLite the cone index is an R*Tree virtual table
(``coord_sky``) created by the migration, outside this metadata; on PostgreSQL it is q3c's
functional index, also created by the migration.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from vohub.voevent.model import CITE_TYPES, ROLES

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: Text compared byte by byte on both backends, so ordering and prefix ranges agree
#: (SQLite's default BINARY collation; PostgreSQL's "C").
BinaryText = String().with_variant(String(collation="C"), "postgresql")


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime: ``timestamptz`` on PostgreSQL, naive UTC text on SQLite.

    SQLite keeps SQLAlchemy's fixed-width ``YYYY-MM-DD HH:MM:SS.ffffff`` text, so comparisons
    and ``ORDER BY`` on the text agree with time order.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        stamp: datetime = value
        if stamp.tzinfo is None:
            return stamp.replace(tzinfo=UTC)
        return stamp.astimezone(UTC)


def _in(column: str, values: tuple[str, ...]) -> str:
    listed = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({listed})"


class Base(DeclarativeBase):
    """The one declarative base; its metadata is what Alembic compares with the database."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class VOEvent(Base):
    """One archived packet, with its bytes exactly as first received."""

    __tablename__ = "voevent"
    __table_args__ = (
        CheckConstraint(_in("role", ROLES), name="role"),
        Index("ix_voevent_author_datetime_id", "author_datetime", "id"),
        # PostgreSQL: a list page of IVORNs by stream or role is an index-only scan (0004).
        Index("ix_voevent_stream_id", "stream", "id", postgresql_include=["ivorn"]),
        Index("ix_voevent_role_id", "role", "id", postgresql_include=["ivorn"]),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    received: Mapped[datetime] = mapped_column(UtcDateTime)
    ivorn: Mapped[str] = mapped_column(BinaryText, unique=True)
    stream: Mapped[str] = mapped_column(BinaryText)
    role: Mapped[str] = mapped_column(String(16))
    version: Mapped[str | None] = mapped_column(String)
    author_ivorn: Mapped[str | None] = mapped_column(String)
    author_datetime: Mapped[datetime | None] = mapped_column(UtcDateTime)
    xml: Mapped[bytes] = mapped_column(LargeBinary)


class Coord(Base):
    """One position of a packet (degrees ICRS; time in UTC)."""

    __tablename__ = "coord"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    voevent_id: Mapped[int] = mapped_column(ForeignKey("voevent.id"), index=True)
    ra: Mapped[float] = mapped_column(Float(precision=53))
    dec: Mapped[float] = mapped_column(Float(precision=53), index=True)
    error: Mapped[float | None] = mapped_column(Float(precision=53))
    time: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    #: The packet's author date, copied here so a cone + authored range reads only ``coord``.
    author_datetime: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Cite(Base):
    """One citation a packet makes (the cited IVORN may not be archived)."""

    __tablename__ = "cite"
    __table_args__ = (CheckConstraint(_in("cite_type", CITE_TYPES), name="cite_type"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    voevent_id: Mapped[int] = mapped_column(ForeignKey("voevent.id"), index=True)
    ref_ivorn: Mapped[str] = mapped_column(BinaryText, index=True)
    cite_type: Mapped[str] = mapped_column(String(16))
    description: Mapped[str | None] = mapped_column(String)


class Conflict(Base):
    """Bytes refused because their IVORN is archived with other bytes (kept, never lost)."""

    __tablename__ = "conflict"
    __table_args__ = (UniqueConstraint("ivorn", "digest"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ivorn: Mapped[str] = mapped_column(BinaryText, index=True)
    digest: Mapped[str] = mapped_column(String(64))
    received: Mapped[datetime] = mapped_column(UtcDateTime)
    xml: Mapped[bytes] = mapped_column(LargeBinary)


class Rollup(Base):
    """Packets per stream × role × authored month (``""`` for packets with no author date)."""

    __tablename__ = "rollup"

    stream: Mapped[str] = mapped_column(BinaryText, primary_key=True)
    role: Mapped[str] = mapped_column(String(16), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    n: Mapped[int] = mapped_column(Integer)

"""Bulk-insert rows on PostgreSQL with ``COPY ... FROM STDIN (FORMAT binary)``.

COPY skips SQL parsing and bytea hex escaping on both ends, which is most of an INSERT's cost
for the archive's packets.  Values are encoded here in PostgreSQL's binary COPY format:
``int4``, ``float8``, ``text``, ``bytea`` and ``timestamptz`` (microseconds since 2000-01-01
UTC), NULL as length -1.  COPY runs on the driver's own cursor, so its failures are turned
into SQLAlchemy's exceptions here, as any other statement's are.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, exc

#: Binary COPY file header: signature, flags, header-extension length.
HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
TRAILER = struct.pack(">h", -1)
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_NULL = struct.pack(">i", -1)
_INT4 = struct.Struct(">ii")
_FLOAT8 = struct.Struct(">id")
_INT8 = struct.Struct(">iq")
_LENGTH = struct.Struct(">i")
_FIELDS = struct.Struct(">h")


def int4(value: int) -> bytes:
    """An ``integer`` field.

    >>> int4(7).hex()
    '0000000400000007'
    """
    return _INT4.pack(4, value)


def float8(value: float | None) -> bytes:
    """A ``double precision`` field (or NULL).

    >>> float8(None).hex(), float8(1.0).hex()
    ('ffffffff', '000000083ff0000000000000')
    """
    return _NULL if value is None else _FLOAT8.pack(8, value)


def text(value: str | None) -> bytes:
    """A ``text``/``varchar`` field in UTF-8 (or NULL).

    >>> text("é").hex()
    '00000002c3a9'
    """
    if value is None:
        return _NULL
    data = value.encode()
    return _LENGTH.pack(len(data)) + data


def bytea(value: bytes) -> bytes:
    """A ``bytea`` field.

    >>> bytea(b"<x/>").hex()
    '000000043c782f3e'
    """
    return _LENGTH.pack(len(value)) + value


def timestamptz(value: datetime | None) -> bytes:
    """A ``timestamptz`` field: microseconds since 2000-01-01T00:00Z (or NULL).

    >>> timestamptz(datetime(2000, 1, 1, 0, 0, 1, tzinfo=UTC)).hex()
    '0000000800000000000f4240'
    """
    if value is None:
        return _NULL
    if value.tzinfo is None:  # naive values are UTC, as the column type treats them
        value = value.replace(tzinfo=UTC)
    delta = value - EPOCH
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return _INT8.pack(8, micros)


def row(fields: Sequence[bytes]) -> bytes:
    """One tuple: the field count, then the encoded fields.

    >>> row([int4(1), text(None)]).hex()
    '00020000000400000001ffffffff'
    """
    return _FIELDS.pack(len(fields)) + b"".join(fields)


def copy_rows(
    connection: Connection, table: str, columns: Sequence[str], rows: Iterable[bytes]
) -> None:
    """COPY encoded ``rows`` (see :func:`row`) into ``table`` in the connection's transaction.

    A failure raises the :class:`sqlalchemy.exc.DBAPIError` subclass SQLAlchemy raises for
    the same driver error (``IntegrityError`` for a taken IVORN, ``OperationalError`` for a
    deadlock or a lost connection, ...); a lost connection is invalidated, as SQLAlchemy does.
    """
    payload = io.BytesIO(b"".join([HEADER, *rows, TRAILER]))
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT binary)"
    dbapi = connection.dialect.loaded_dbapi
    raw: Any = connection.connection.dbapi_connection
    cursor = raw.cursor()
    try:
        try:
            cursor.copy_expert(statement, payload)
        finally:
            cursor.close()
    except dbapi.Error as error:
        lost = bool(connection.dialect.is_disconnect(error, raw, cursor))
        if lost:
            connection.invalidate(error)
        raise exc.DBAPIError.instance(
            statement,
            None,
            error,
            dbapi.Error,
            connection_invalidated=lost,
            dialect=connection.dialect,
        ) from error

"""Opaque keyset cursors for List: the last row's order key and id, bound to filter and order."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from vohub.archive.errors import InvalidQuery
from vohub.archive.filters import Order, PacketFilter
from vohub.archive.query import After

#: The range of a row id (SQLite's and PostgreSQL's BIGINT).
ROW_ID_MIN, ROW_ID_MAX = -(2**63), 2**63 - 1


def _fingerprint(f: PacketFilter, order: Order) -> str:
    return hashlib.sha256(f"{f!r}|{order.value}".encode()).hexdigest()[:16]


def encode(f: PacketFilter, order: Order, key: Any, row_id: int) -> str:
    """The cursor continuing after the row (``key``, ``row_id``).

    >>> c = encode(PacketFilter(), Order.ID, 7, 7)
    >>> decode(c, PacketFilter(), Order.ID)
    (7, 7)
    """
    if isinstance(key, datetime):
        key = {"t": key.isoformat()}
    body = {"f": _fingerprint(f, order), "k": key, "i": row_id}
    text = json.dumps(body, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(text).decode().rstrip("=")


def decode(cursor: str, f: PacketFilter, order: Order) -> After:
    """The keyset position in ``cursor``; :class:`InvalidQuery` if it is not one of ours.

    A cursor is plain base64 JSON, so an edited one is checked like any other input.

    >>> decode("bogus", PacketFilter(), Order.ID)
    Traceback (most recent call last):
    ...
    vohub.archive.errors.InvalidQuery: cursor: not a cursor from this archive
    """
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        body = json.loads(base64.urlsafe_b64decode(padded.encode()))
        fingerprint, key, row_id = body["f"], body["k"], body["i"]
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise InvalidQuery("cursor", "not a cursor from this archive") from None
    if fingerprint != _fingerprint(f, order):
        raise InvalidQuery("cursor", "was issued for another filter or order")
    position = _position(order, key, row_id)
    if position is None:
        raise InvalidQuery("cursor", "not a cursor from this archive")
    return position


def _position(order: Order, key: Any, row_id: Any) -> After | None:
    """The position a cursor's key and id stand for, or None if they cannot be ours."""
    if type(row_id) is not int or not ROW_ID_MIN <= row_id <= ROW_ID_MAX:
        return None
    if order in (Order.ID, Order.ID_DESC):
        return (row_id, row_id)
    if order in (Order.IVORN, Order.IVORN_DESC):
        return (key, row_id) if _is_text(key) else None
    if key is None:
        return (None, row_id)
    try:
        moment = datetime.fromisoformat(key["t"])
        return (moment.astimezone(UTC), row_id) if moment.tzinfo is not None else None
    except (TypeError, KeyError, ValueError, OverflowError):
        return None


def _is_text(value: Any) -> bool:
    """True for a str that the database can hold: no NUL, no lone surrogate."""
    if not isinstance(value, str) or "\x00" in value:
        return False
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True

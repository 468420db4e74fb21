"""Opaque keyset cursors for List: the last row's order key and id, bound to filter and order."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from datetime import datetime
from typing import Any

from vohub.archive.errors import InvalidQuery
from vohub.archive.filters import Order, PacketFilter
from vohub.archive.query import After


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

    >>> decode("bogus", PacketFilter(), Order.ID)
    Traceback (most recent call last):
    ...
    vohub.archive.errors.InvalidQuery: cursor: not a cursor from this archive
    """
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        body = json.loads(base64.urlsafe_b64decode(padded.encode()))
        fingerprint, key, row_id = body["f"], body["k"], int(body["i"])
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise InvalidQuery("cursor", "not a cursor from this archive") from None
    if fingerprint != _fingerprint(f, order):
        raise InvalidQuery("cursor", "was issued for another filter or order")
    if isinstance(key, dict):
        key = datetime.fromisoformat(key["t"])
    return (key, row_id)

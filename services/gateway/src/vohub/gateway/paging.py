"""Paging of list requests: ``limit`` (default 100, at most 10000), ``offset``, ``order``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from vohub.gateway.errors import InvalidParameter, LimitExceeded
from vohub.v1 import archive_pb2

#: Rows per page when no ``limit`` is given, and the most a page may hold (voeventdb's values).
DEFAULT_LIMIT = 100
MAX_LIMIT = 10000
#: The largest offset accepted (the archive takes an unsigned 64-bit offset).
MAX_OFFSET = 2**63 - 1
#: apiv1 paging keys: accepted everywhere, used by the list endpoints only.
PAGING_V1 = ("limit", "offset", "order")
#: An integer as the API takes it: ASCII digits with an optional sign (``str.isdigit``
#: also admits superscripts and other digits ``int`` refuses, and ``lstrip`` several signs),
#: and any number of leading zeros, which voeventdb's ``int`` reads.
_INTEGER = re.compile(r"([-+]?)0*([0-9]{1,24})")
#: A count of rows: digits, with an optional plus sign (matched: the digits).
_COUNT = re.compile(r"\+?([0-9]+)")

ORDERS = {
    "id": archive_pb2.ORDER_ID,
    "-id": archive_pb2.ORDER_ID_DESC,
    "author_datetime": archive_pb2.ORDER_AUTHOR_DATETIME,
    "-author_datetime": archive_pb2.ORDER_AUTHOR_DATETIME_DESC,
    "ivorn": archive_pb2.ORDER_IVORN,
    "-ivorn": archive_pb2.ORDER_IVORN_DESC,
}


@dataclass(frozen=True, slots=True)
class Paging:
    """Validated paging of a list request: rows per page, rows to skip, and the order."""

    limit: int
    offset: int
    order: archive_pb2.Order.ValueType


def parse_int(text: str, name: str, low: int, high: int) -> int:
    """A decimal integer in ``[low, high]`` (no sign games, no decimals).

    >>> parse_int("20", "offset", 0, 100)
    20
    >>> parse_int("1.23", "limit", 0, 100)
    Traceback (most recent call last):
    ...
    vohub.gateway.errors.InvalidParameter: limit: not an integer: '1.23'
    >>> parse_int("2²", "offset", 0, 100)
    Traceback (most recent call last):
    ...
    vohub.gateway.errors.InvalidParameter: offset: not an integer: '2²'
    >>> parse_int("0" * 30 + "7", "offset", 0, 100), parse_int("+7", "offset", 0, 100)
    (7, 7)
    """
    match = _INTEGER.fullmatch(text.strip())
    if match is None:
        raise InvalidParameter(f"not an integer: {text[:80]!r}", name)
    value = int(match[1] + match[2])
    if not low <= value <= high:
        raise InvalidParameter(f"{value} is outside [{low}, {high}]", name)
    return value


def parse_limit(values: list[str] | None, name: str = "limit") -> int:
    """The page size: default 100 when absent or empty, 413 above 10000. Blanks are not empty
    (voeventdb's ``int(" ")`` fails: a 400).

    >>> parse_limit(None), parse_limit([""]), parse_limit(["3"])
    (100, 100, 3)
    >>> parse_limit(["99999"])
    Traceback (most recent call last):
    ...
    vohub.gateway.errors.LimitExceeded: limit: 99999 rows requested; the maximum is 10000
    >>> parse_limit([" "])
    Traceback (most recent call last):
    ...
    vohub.gateway.errors.InvalidParameter: limit: not an integer: ' '
    """
    if not values or not values[0]:
        return DEFAULT_LIMIT
    stripped = values[0].strip()
    count = _COUNT.fullmatch(stripped)
    digits = count[1].lstrip("0") if count else ""
    if len(digits) > 6 or int(digits or "0") > MAX_LIMIT:
        shown = stripped if len(stripped) <= 20 else f"{stripped[:20]}…"
        raise LimitExceeded(f"{shown} rows requested; the maximum is {MAX_LIMIT}", name)
    return parse_int(values[0], name, 0, MAX_LIMIT)


def parse_paging(grouped: dict[str, list[str]]) -> Paging:
    """``limit``, ``offset`` and ``order`` of an apiv1 list request (first values count).

    >>> parse_paging({"limit": ["3"], "offset": ["2"], "order": ["-author_datetime"]})
    Paging(limit=3, offset=2, order=3)
    >>> parse_paging({"order": ["bogus", "id"]})
    Traceback (most recent call last):
    ...
    vohub.gateway.errors.InvalidParameter: order: not one of id, -id, author_datetime, \
-author_datetime, ivorn, -ivorn: 'bogus'
    """
    offset_values = grouped.get("offset") or [""]
    offset = parse_int(offset_values[0], "offset", 0, MAX_OFFSET) if offset_values[0] else 0
    return Paging(parse_limit(grouped.get("limit")), offset, parse_order(grouped.get("order")))


def parse_order(values: list[str] | None) -> archive_pb2.Order.ValueType:
    """The list order: the first value, default ``id``. As in voeventdb, which reads the first
    value alone, later values are not looked at (``order=id&order=bogus`` is ordered by id).
    """
    if not values:
        return archive_pb2.ORDER_ID
    if values[0] not in ORDERS:
        names = ", ".join(ORDERS)
        raise InvalidParameter(f"not one of {names}: {values[0][:80]!r}", "order")
    return ORDERS[values[0]]

"""The query vocabulary: a packet filter, list orders and kinds, map kinds, with validation.

These are plain values, independent of gRPC; :mod:`vohub.archive.convert` builds them from
protobuf messages and :mod:`vohub.archive.query` turns them into SQL.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum

from vohub.archive.errors import InvalidQuery
from vohub.archive.sky import Cone
from vohub.voevent.model import ROLES


class Order(StrEnum):
    """List orders, named as apiv1's ``order`` values; id ascending breaks every tie."""

    ID = "id"
    ID_DESC = "-id"
    AUTHOR_DATETIME = "author_datetime"
    AUTHOR_DATETIME_DESC = "-author_datetime"
    IVORN = "ivorn"
    IVORN_DESC = "-ivorn"


class ListKind(StrEnum):
    """What each listed row carries besides the IVORN."""

    IVORN = "ivorn"
    NREFS = "ivorn_nrefs"
    NCITES = "ivorn_ncites"
    SYNOPSIS = "synopsis"


class MapKind(StrEnum):
    """How a map groups the matching packets."""

    STREAM = "stream"
    ROLE = "role"
    STREAM_ROLE = "stream_role"
    AUTHORED_MONTH = "authored_month"


@dataclass(frozen=True, slots=True)
class PacketFilter:
    """The apiv1 filters plus apiv2's extras; unset fields do not filter.

    Repeated fields combine as apiv1 does: ``ivorn_contains`` is an AND, the other tuples are
    ORs. ``cone``, ``dec_gt``, ``dec_lt``, ``event_since`` and ``event_until`` all constrain
    the same position of the packet.

    >>> PacketFilter(role=("test",)).is_rollup_only()
    True
    >>> PacketFilter(dec_gt=91.0).validate()
    Traceback (most recent call last):
    ...
    vohub.archive.errors.InvalidQuery: filter.dec_gt: must be within [-90, 90], not 91.0
    """

    authored_since: datetime | None = None
    authored_until: datetime | None = None
    cited: bool | None = None
    cone: Cone | None = None
    coord: bool | None = None
    dec_gt: float | None = None
    dec_lt: float | None = None
    ivorn_contains: tuple[str, ...] = ()
    ivorn_prefix: tuple[str, ...] = ()
    ref_any: bool | None = None
    ref_contains: tuple[str, ...] = ()
    ref_exact: tuple[str, ...] = ()
    role: tuple[str, ...] = ()
    stream: tuple[str, ...] = ()
    stream_prefix: tuple[str, ...] = ()
    event_since: datetime | None = None
    event_until: datetime | None = None

    def validate(self) -> None:
        """Raise :class:`InvalidQuery` naming the first field whose value cannot be answered."""
        for role in self.role:
            if role not in ROLES:
                raise InvalidQuery("filter.role", f"unknown role {role!r}")
        for name in TEXT_FIELDS:
            for value in getattr(self, name):
                check_text(f"filter.{name}", value)
        for name in ("dec_gt", "dec_lt"):
            _check_dec(f"filter.{name}", getattr(self, name))
        if self.cone is not None:
            _check_cone(self.cone)

    def touches_coords(self) -> bool:
        """True when a filter constrains one position of the packet."""
        return any(
            getattr(self, name) is not None
            for name in ("cone", "dec_gt", "dec_lt", "event_since", "event_until")
        )

    def is_coord_only(self) -> bool:
        """True when a position is constrained and every filter set can be tested on it alone.

        >>> PacketFilter(cone=Cone(1.0, 2.0, 3.0), authored_since=None).is_coord_only()
        True
        >>> PacketFilter(cone=Cone(1.0, 2.0, 3.0), role=("test",)).is_coord_only()
        False
        """
        on_coord = {"cone", "dec_gt", "dec_lt", "event_since", "event_until"}
        on_coord |= {"authored_since", "authored_until"}  # copied onto each position
        return self.touches_coords() and all(
            getattr(self, f.name) in (None, ()) for f in fields(self) if f.name not in on_coord
        )

    def is_rollup_only(self) -> bool:
        """True when only stream, role and stream_prefix are set (the rollup can answer)."""
        rollup = {"stream", "role", "stream_prefix"}
        return all(
            getattr(self, f.name) in (None, ()) for f in fields(self) if f.name not in rollup
        )


#: The filters whose values are compared with stored text.
TEXT_FIELDS = (
    "ivorn_contains",
    "ivorn_prefix",
    "ref_contains",
    "ref_exact",
    "stream",
    "stream_prefix",
)


def check_text(field: str, value: str) -> None:
    """Refuse text no stored value can hold: a NUL character, which PostgreSQL cannot take
    in a string (SQLite could, so both backends refuse it alike).

    >>> check_text("ivorn", "ivo://a/b#\\x00")
    Traceback (most recent call last):
    ...
    vohub.archive.errors.InvalidQuery: ivorn: must not contain a NUL character: 'ivo://a/b#\\x00'
    """
    if "\x00" in value:
        raise InvalidQuery(field, f"must not contain a NUL character: {value[:80]!r}")


def _check_dec(field: str, value: float | None) -> None:
    if value is not None and not -90.0 <= value <= 90.0:
        raise InvalidQuery(field, f"must be within [-90, 90], not {value!r}")


def _check_cone(cone: Cone) -> None:
    _check_dec("filter.cone.dec", cone.dec)
    if not math.isfinite(cone.ra):
        raise InvalidQuery("filter.cone.ra", f"must be a finite number, not {cone.ra!r}")
    if not (math.isfinite(cone.radius) and cone.radius >= 0.0):
        raise InvalidQuery("filter.cone.radius", f"must be >= 0 degrees, not {cone.radius!r}")

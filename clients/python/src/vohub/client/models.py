"""Typed results: a packet :class:`Synopsis` with astropy ``SkyCoord``/``Angle``/``Time`` values.

Both the apiv2 synopsis object and the apiv1 ``packet/synopsis`` result (as voeventdb sends
it) are read; the apiv1 form has no ``cited_by``, so a synopsis read from it has ``cited_by``
None (unknown; :class:`~vohub.client.Client` asks apiv1 for it and fills it in). A result
keeps the plain values it was sent (degrees, ISO 8601 text; a position's time in apiv2's form
whichever API sent it) and builds each astropy object the first time it is asked for: making
a ``SkyCoord`` and three ``Time`` objects costs about 2 ms, so a program that pages through
tens of thousands of packets pays only for the ones whose astropy values it reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from astropy import units as u
from astropy.coordinates import Angle, SkyCoord
from astropy.time import Time


def _utc(text: str) -> Time:
    return Time(text.replace("Z", "").replace("+00:00", ""), format="isot", scale="utc")


def _iso(text: Any, optional: bool = False) -> Any:
    """``text`` as sent if it is ISO 8601 text (or None, if ``optional``); ValueError or
    TypeError otherwise, so a reply of the wrong shape is refused where it is read, not when a
    time is printed.

    >>> _iso("2015-09-15T21:24:37.5+00:00"), _iso(None, optional=True)
    ('2015-09-15T21:24:37.5+00:00', None)
    """
    if text is not None or not optional:
        datetime.fromisoformat(text)
    return text


def _iso_z(text: str) -> str:
    """ISO 8601 UTC text as apiv2 writes it (``Z``; microseconds only when non-zero) from any
    ISO 8601 form of the instant, such as apiv1's ``+00:00`` (no offset: UTC, as astropy reads it).

    >>> _iso_z("2015-09-15T21:24:37.5+00:00"), _iso_z("2015-09-15T23:24:37+02:00")
    ('2015-09-15T21:24:37.500000Z', '2015-09-15T21:24:37Z')
    >>> _iso_z("2015-09-15T21:24:37")
    '2015-09-15T21:24:37Z'
    """
    when = datetime.fromisoformat(text)
    utc = when.replace(tzinfo=when.tzinfo or UTC).astimezone(UTC)
    return utc.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Position:
    """Where and when: an ICRS position, its error-circle radius, and the observation time.

    ``ra``, ``dec`` and ``error_radius`` are degrees, as sent. ``isotime`` is ISO 8601 UTC in
    one form whichever API sent it, apiv2's: ``Z`` for UTC, microseconds only when non-zero
    (``2015-09-15T21:24:37Z``, ``2015-09-15T21:24:37.500000Z``), where apiv1 writes ``+00:00``.
    ``coord``, ``error`` and ``time`` are the astropy values, built when first read.
    """

    ra: float
    dec: float
    error_radius: float | None
    isotime: str | None

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Position:
        """From ``{"ra", "dec", "error", "time"}`` (degrees, ISO 8601 UTC in either API's form).

        >>> p = Position.from_json({"ra": 319.6588, "dec": -34.9131, "error": 0.001,
        ...                         "time": "2015-09-15T21:24:37+00:00"})
        >>> float(p.coord.dec.deg), float(p.error.arcsec), p.isotime, p.time.isot
        (-34.9131, 3.6, '2015-09-15T21:24:37Z', '2015-09-15T21:24:37.000')
        """
        sent = obj.get("time")
        return cls(obj["ra"], obj["dec"], obj.get("error"), None if sent is None else _iso_z(sent))

    @cached_property
    def coord(self) -> SkyCoord:
        """The position as an ICRS ``SkyCoord``."""
        return SkyCoord(self.ra * u.deg, self.dec * u.deg, frame="icrs")

    @cached_property
    def error(self) -> Angle | None:
        """The error-circle radius, if the packet gives one."""
        return None if self.error_radius is None else Angle(self.error_radius, u.deg)

    @cached_property
    def time(self) -> Time | None:
        """When the position was observed, if the packet says."""
        return None if self.isotime is None else _utc(self.isotime)


@dataclass(frozen=True, slots=True)
class Reference:
    """A citation the packet makes: the cited IVORN, the kind of citation, a description."""

    ivorn: str
    cite_type: str
    description: str | None = None


@dataclass(frozen=True)
class Synopsis:
    """Everything the archive knows about one packet except its XML.

    ``received_iso`` and ``author_datetime_iso`` are ISO 8601 UTC as sent; ``received`` and
    ``author_datetime`` are the astropy ``Time`` values, built when first read. ``cited_by``
    lists the archived packets citing this one; it is None, not ``[]``, when the server did
    not say (an apiv1 synopsis read by :meth:`from_json`), since ``[]`` means "cited by none".

    Synopses are equal when every field is, and hash by IVORN, so they go in sets and serve
    as dict keys. Two copies of one packet fetched before and after another packet cited it
    differ (``cited_by``), as does an apiv1 result (``cited_by`` None) from an apiv2 one: to keep
    one synopsis per packet whatever its copy, key on ``ivorn``.

    >>> item = {"ivorn": "ivo://a/b#1", "stream": "a/b", "role": "test", "received":
    ...         "2020-06-01T00:00:00Z", "refs": [], "cited_by": []}
    >>> len({Synopsis.from_json(item), Synopsis.from_json(item)})
    1
    """

    ivorn: str
    stream: str
    role: str
    version: str
    received_iso: str
    author_ivorn: str | None
    author_datetime_iso: str | None
    positions: list[Position] = field(default_factory=list)
    refs: list[Reference] = field(default_factory=list)
    cited_by: list[str] | None = field(default_factory=list)
    relevant_urls: list[str] = field(default_factory=list)

    def __hash__(self) -> int:
        # The lists make the fields unhashable; equal synopses have equal IVORNs.
        return hash(self.ivorn)

    @cached_property
    def received(self) -> Time:
        """When the archive received the packet."""
        return _utc(self.received_iso)

    @cached_property
    def author_datetime(self) -> Time | None:
        """The packet's authoring time (``Who/Date``), if it has one."""
        return None if self.author_datetime_iso is None else _utc(self.author_datetime_iso)

    @property
    def coords(self) -> list[SkyCoord]:
        """The positions' sky coordinates."""
        return [p.coord for p in self.positions]

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Synopsis:
        """From an apiv2 synopsis object, or an apiv1 synopsis result; ValueError, KeyError or
        TypeError if ``obj`` is neither (a field missing, or a time that is no ISO 8601 text).

        >>> s = Synopsis.from_json({"ivorn": "ivo://a/b#1", "stream": "a/b", "role": "test",
        ...     "version": "2.0", "received": "2020-06-01T00:00:00Z", "author_ivorn": None,
        ...     "author_datetime": None, "positions": [], "refs": [], "cited_by": []})
        >>> s.ivorn, s.received.isot, s.author_datetime
        ('ivo://a/b#1', '2020-06-01T00:00:00.000', None)
        """
        if "voevent" in obj:
            return cls._from_v1(obj)
        return cls(
            ivorn=obj["ivorn"],
            stream=obj["stream"],
            role=obj["role"],
            version=obj.get("version", ""),
            received_iso=_iso(obj["received"]),
            author_ivorn=obj.get("author_ivorn"),
            author_datetime_iso=_iso(obj.get("author_datetime"), optional=True),
            positions=[Position.from_json(p) for p in obj.get("positions", [])],
            refs=[
                Reference(r["ivorn"], r["cite_type"], r.get("description"))
                for r in obj.get("refs", [])
            ],
            cited_by=None if obj.get("cited_by") is None else list(obj["cited_by"]),
            relevant_urls=list(obj.get("relevant_urls", [])),
        )

    @classmethod
    def _from_v1(cls, obj: dict[str, Any]) -> Synopsis:
        event = obj["voevent"]
        return cls(
            ivorn=event["ivorn"],
            stream=event["stream"],
            role=event["role"],
            version=event.get("version") or "",
            received_iso=_iso(event["received"]),
            author_ivorn=event.get("author_ivorn"),
            author_datetime_iso=_iso(event.get("author_datetime"), optional=True),
            positions=[Position.from_json(p) for p in obj.get("coords", [])],
            refs=[
                Reference(r["ref_ivorn"], r["cite_type"], r.get("description"))
                for r in obj.get("refs", [])
            ],
            cited_by=None,
            relevant_urls=list(obj.get("relevant_urls", [])),
        )

"""Typed results: a packet :class:`Synopsis` with astropy ``SkyCoord``/``Angle``/``Time`` values.

Both the apiv2 synopsis object and the apiv1 ``packet/synopsis`` result (as voeventdb sends
it) are read; the apiv1 form has no ``cited_by``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from astropy import units as u
from astropy.coordinates import Angle, SkyCoord
from astropy.time import Time


def _time(text: str | None) -> Time | None:
    if text is None:
        return None
    return Time(text.replace("Z", "").replace("+00:00", ""), format="isot", scale="utc")


@dataclass(frozen=True, slots=True)
class Position:
    """Where and when: an ICRS position, its error-circle radius, and the observation time."""

    coord: SkyCoord
    error: Angle | None
    time: Time | None

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Position:
        """From ``{"ra", "dec", "error", "time"}`` (degrees, ISO 8601 UTC).

        >>> p = Position.from_json({"ra": 319.6588, "dec": -34.9131, "error": 0.001,
        ...                         "time": "2015-09-15T21:24:37Z"})
        >>> float(p.coord.dec.deg), float(p.error.arcsec), p.time.isot
        (-34.9131, 3.6, '2015-09-15T21:24:37.000')
        """
        error = obj.get("error")
        return cls(
            coord=SkyCoord(obj["ra"] * u.deg, obj["dec"] * u.deg, frame="icrs"),
            error=None if error is None else Angle(error, u.deg),
            time=_time(obj.get("time")),
        )


@dataclass(frozen=True, slots=True)
class Reference:
    """A citation the packet makes: the cited IVORN, the kind of citation, a description."""

    ivorn: str
    cite_type: str
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Synopsis:
    """Everything the archive knows about one packet except its XML."""

    ivorn: str
    stream: str
    role: str
    version: str
    received: Time
    author_ivorn: str | None
    author_datetime: Time | None
    positions: list[Position] = field(default_factory=list)
    refs: list[Reference] = field(default_factory=list)
    cited_by: list[str] = field(default_factory=list)
    relevant_urls: list[str] = field(default_factory=list)

    @property
    def coords(self) -> list[SkyCoord]:
        """The positions' sky coordinates."""
        return [p.coord for p in self.positions]

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Synopsis:
        """From an apiv2 synopsis object, or an apiv1 synopsis result.

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
            received=_time(obj["received"]),
            author_ivorn=obj.get("author_ivorn"),
            author_datetime=_time(obj.get("author_datetime")),
            positions=[Position.from_json(p) for p in obj.get("positions", [])],
            refs=[
                Reference(r["ivorn"], r["cite_type"], r.get("description"))
                for r in obj.get("refs", [])
            ],
            cited_by=list(obj.get("cited_by", [])),
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
            received=_time(event["received"]),
            author_ivorn=event.get("author_ivorn"),
            author_datetime=_time(event.get("author_datetime")),
            positions=[Position.from_json(p) for p in obj.get("coords", [])],
            refs=[
                Reference(r["ref_ivorn"], r["cite_type"], r.get("description"))
                for r in obj.get("refs", [])
            ],
            relevant_urls=list(obj.get("relevant_urls", [])),
        )

"""Convert model positions and times to astropy ``SkyCoord``/``Time`` (astropy imported on use).

Importing :mod:`vohub.voevent` never imports astropy; these helpers do, the first time
they run.  The frame follows the coordinate system id (FK5 at J2000 or ICRS; anything
else is taken as ICRS, as voeventdb does).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from vohub.voevent.model import Packet, Position

if TYPE_CHECKING:  # pragma: no cover - typing only
    from astropy.coordinates import Angle, SkyCoord
    from astropy.time import Time


def frame_of(coord_system: str | None) -> str:
    """The astropy frame name for a VOEvent coordinate system id.

    >>> frame_of("UTC-FK5-GEO"), frame_of("TDB-ICRS-BARY"), frame_of(None)
    ('fk5', 'icrs', 'icrs')
    """
    if coord_system and "FK5" in coord_system.upper():
        return "fk5"
    return "icrs"


def to_skycoord(position: Position | Packet) -> SkyCoord:
    """A ``SkyCoord`` (degrees; FK5 J2000 or ICRS) for a position or a packet's first position.

    Raises
    ------
    ValueError
        The position has no RA/Dec.

    Examples
    --------
    >>> c = to_skycoord(Position(ra=10.5, dec=-45.0, coord_system="UTC-FK5-GEO"))
    >>> c.frame.name, float(c.ra.deg), float(c.dec.deg)
    ('fk5', 10.5, -45.0)
    """
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    pos = _position(position)
    if pos.ra is None or pos.dec is None:
        raise ValueError("position has no RA/Dec")
    frame = frame_of(pos.coord_system)
    extra: dict[str, Any] = {"equinox": "J2000"} if frame == "fk5" else {}
    return SkyCoord(pos.ra * u.deg, pos.dec * u.deg, frame=frame, **extra)


def to_error_angle(position: Position | Packet) -> Angle | None:
    """The error-circle radius as an astropy ``Angle`` (None if the packet gives none).

    >>> float(to_error_angle(Position(ra=1.0, dec=2.0, error=0.5)).arcmin)
    30.0
    """
    from astropy import units as u
    from astropy.coordinates import Angle

    pos = _position(position)
    return None if pos.error is None else Angle(pos.error * u.deg)


def to_time(value: Position | Packet | datetime) -> Time:
    """An astropy ``Time`` (UTC scale) for a datetime, a position's time or a packet's first.

    Raises
    ------
    ValueError
        There is no time to convert.

    Examples
    --------
    >>> from datetime import UTC
    >>> to_time(datetime(2016, 1, 16, 7, 51, 18, tzinfo=UTC)).isot
    '2016-01-16T07:51:18.000'
    """
    from astropy.time import Time

    moment = value if isinstance(value, datetime) else _position(value).time
    if moment is None:
        raise ValueError("no observation time")
    return Time(moment, scale="utc")


def _position(value: Position | Packet) -> Position:
    if isinstance(value, Position):
        return value
    if value.position is None:
        raise ValueError(f"{value.ivorn} has no WhereWhen position")
    return value.position

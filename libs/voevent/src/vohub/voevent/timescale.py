"""Convert an ``ISOTime`` written in a given time scale (UTC, TT, TAI, GPS, TDB, TCB, TCG) to UTC.

UTC text is parsed with :meth:`datetime.fromisoformat` (the hot path, no astropy).  Other
scales go through :mod:`astropy.time`, imported on first use.  GPS is TAI − 19 s by
definition, so it is converted through TAI.  A time that lands outside the years 1 to 9999
once in UTC (``0001-01-01T00:00:00+14:00``) cannot be held by :class:`datetime` and is
refused as :class:`OutOfRange`, a :class:`ValueError` like any other unusable time.
"""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta

#: Time scales :func:`to_utc` converts; the first token of a ``coord_system_id`` names one.
SCALES = ("UTC", "TT", "TAI", "GPS", "TDB", "TCB", "TCG")
_GPS_MINUS_TAI = timedelta(seconds=-19)


class OutOfRange(ValueError):
    """A time that falls outside the years 1 to 9999 once converted to UTC.

    >>> str(OutOfRange("9999-12-31T23:00:00-05:00"))
    "'9999-12-31T23:00:00-05:00' is outside the years 1 to 9999 in UTC"
    """

    def __init__(self, text: str) -> None:
        self.text = text
        super().__init__(f"{text!r} is outside the years 1 to 9999 in UTC")


def scale_of(coord_system_id: str | None) -> str | None:
    """The time scale named by the first token of a coordinate system id, upper-cased.

    >>> scale_of("TDB-ICRS-BARY"), scale_of("UTC-FK5-GEO"), scale_of(None)
    ('TDB', 'UTC', None)
    """
    if not coord_system_id:
        return None
    return coord_system_id.split("-", 1)[0].strip().upper() or None


def parse_iso(text: str) -> datetime:
    """Parse ISO-8601 text; a naive result is taken as UTC-like wall time and stays naive.

    Accepts what real packets hold: ``Z`` or ``+00:00`` suffixes, 0–9 fractional digits,
    a space instead of ``T``, surrounding white space.

    Raises
    ------
    ValueError
        The text is not an ISO-8601 date-time.

    Examples
    --------
    >>> parse_iso("2014-04-29T23:13:32.00")
    datetime.datetime(2014, 4, 29, 23, 13, 32)
    >>> parse_iso(" 2016-09-25T11:16:48Z ").tzinfo
    datetime.timezone.utc
    """
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return datetime.fromisoformat(text.strip().replace(" ", "T", 1))


def to_utc(text: str, scale: str | None = "UTC") -> datetime:
    """Convert ``text`` (ISO-8601 in ``scale``; None means UTC) to an aware UTC datetime.

    Raises
    ------
    OutOfRange
        The time falls outside the years 1 to 9999 once in UTC.
    ValueError
        Unreadable text or a scale not in :data:`SCALES`.

    Examples
    --------
    >>> to_utc("2014-04-29T23:13:32.00")
    datetime.datetime(2014, 4, 29, 23, 13, 32, tzinfo=datetime.timezone.utc)
    >>> to_utc("2016-10-31T22:27:33", "TDB").isoformat()
    '2016-10-31T22:26:24.817475+00:00'
    >>> to_utc("2016-01-16T07:52:27", "GPS").isoformat()
    '2016-01-16T07:52:10+00:00'
    >>> try:
    ...     to_utc("0001-01-01T00:00:00+14:00")
    ... except OutOfRange as exc:
    ...     print(exc)
    '0001-01-01T00:00:00+14:00' is outside the years 1 to 9999 in UTC
    """
    moment = parse_iso(text)
    kind = (scale or "UTC").upper()
    if kind == "UTC":
        if moment.tzinfo is None:
            # As moment.replace(tzinfo=UTC), which costs five times as much on CPython 3.11
            # (this runs twice per packet parsed).
            return datetime.combine(moment.date(), moment.time(), UTC)
        try:
            return moment.astimezone(UTC)
        except OverflowError:
            raise OutOfRange(text) from None
    if kind not in SCALES:
        raise ValueError(f"unknown time scale {scale!r}")
    if moment.tzinfo is not None:
        if moment.utcoffset():
            raise ValueError(f"a {kind} time cannot carry a UTC offset: {text!r}")
        moment = moment.replace(tzinfo=None)
    try:
        return _astropy_to_utc(moment, kind)
    except (OverflowError, ValueError):  # GPS + 19 s past 9999, or astropy's "year 0"
        raise OutOfRange(text) from None


def _astropy_to_utc(moment: datetime, kind: str) -> datetime:
    """Convert a naive ``moment`` in scale ``kind`` with astropy (ERFA)."""
    from astropy.time import Time

    if kind == "GPS":
        moment, kind = moment - _GPS_MINUS_TAI, "TAI"
    with warnings.catch_warnings():
        # ERFA warns "dubious year" outside its leap-second table; the extrapolated value
        # is still the best estimate a packet can get.
        warnings.simplefilter("ignore")
        utc: datetime = Time(moment, scale=kind.lower()).utc.to_datetime(timezone=UTC)
    return utc

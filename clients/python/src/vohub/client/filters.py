"""Turn filters given as Python and astropy values into query-string pairs.

Filters are a dict or keyword arguments with the server's keys. Values may be astropy
``SkyCoord``/``Angle``/``Time``, ``datetime``, booleans, numbers, strings, or lists of these
for the keys that take several values.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
from astropy import units as u
from astropy.coordinates import Angle, SkyCoord
from astropy.time import ScaleValueError, Time

from vohub.client.errors import InvalidFilter

#: Keys that take one value; the rest take a list of values (sent as a repeated key).
SINGLE_KEYS = frozenset(
    {"authored_since", "authored_until", "cited", "cone", "coord", "dec_gt", "dec_lt",
     "ref_any", "event_since", "event_until"}
)  # fmt: skip
MULTI_KEYS = frozenset(
    {"ivorn_contains", "ivorn_prefix", "ref_contains", "ref_exact", "role", "stream",
     "stream_prefix"}
)  # fmt: skip
#: Keys only vohub's apiv2 knows.
V2_ONLY_KEYS = frozenset({"stream_prefix", "event_since", "event_until"})
TIME_KEYS = frozenset({"authored_since", "authored_until", "event_since", "event_until"})
#: Keys whose values are streams: stored without the author IVORN's ``ivo://``.
STREAM_KEYS = frozenset({"stream", "stream_prefix"})
IVO_SCHEME = "ivo://"

Pair = tuple[str, str]


def merge(filters: Mapping[str, Any] | None, extra: Mapping[str, Any]) -> dict[str, Any]:
    """One dict from a filters mapping and keyword arguments (keywords win); None dropped.

    >>> merge({"role": "test"}, {"stream": "a/b", "cited": None})
    {'role': 'test', 'stream': 'a/b'}
    """
    combined = {**(filters or {}), **extra}
    return {k: v for k, v in combined.items() if v is not None}


def to_pairs(filters: Mapping[str, Any]) -> list[Pair]:
    """The query-string pairs for ``filters``.

    >>> from astropy import units as u
    >>> to_pairs({"cone": (SkyCoord(10 * u.deg, 20 * u.deg), Angle(3, u.deg)),
    ...           "role": ["test", "utility"], "cited": True,
    ...           "authored_since": datetime(2016, 9, 1)})
    ... # doctest: +NORMALIZE_WHITESPACE
    [('cone', '[10.0, 20.0, 3.0]'), ('role', 'test'), ('role', 'utility'), ('cited', 'true'),
     ('authored_since', '2016-09-01T00:00:00+00:00')]
    >>> to_pairs({"colour": "red"})
    Traceback (most recent call last):
    ...
    vohub.client.errors.InvalidFilter: colour: unknown filter key
    """
    pairs: list[Pair] = []
    for key, value in filters.items():
        if key in SINGLE_KEYS:
            pairs.append((key, _encoded(key, value)))
        elif key in MULTI_KEYS:
            scalar = isinstance(value, str | bytes) or not isinstance(value, Iterable)
            values = [value] if scalar else value
            pairs.extend((key, _encoded(key, v)) for v in values)
        else:
            raise InvalidFilter(key, "unknown filter key")
    return pairs


def _encoded(key: str, value: Any) -> str:
    """:func:`encode_value`, with whatever astropy or numpy raise on a value they cannot
    convert (a leap second, an AltAz frame without a time, an array) as :class:`InvalidFilter`.
    """
    try:
        return encode_value(key, value)
    except InvalidFilter:
        raise
    except (TypeError, ValueError, AttributeError, u.UnitsError, ScaleValueError) as exc:
        raise InvalidFilter(key, f"cannot send this {type(value).__name__}: {exc}") from None


def encode_value(key: str, value: Any) -> str:
    """One value as query-string text.

    >>> encode_value("dec_gt", Angle("-30d30m"))
    '-30.5'
    >>> encode_value("authored_until", Time("2015-09-15T21:19:42", scale="utc"))
    '2015-09-15T21:19:42+00:00'
    >>> encode_value("stream", "ivo://nasa.gsfc.gcn/SWIFT")  # a stream has no scheme
    'nasa.gsfc.gcn/SWIFT'
    """
    if key == "cone":
        return encode_cone(value)
    if key in TIME_KEYS:
        return encode_time(key, value)
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, u.Quantity):  # an Angle, or another angular quantity
        return repr(_one(Angle(value, u.deg).deg))
    if isinstance(value, numbers.Integral):  # numpy's too
        return str(int(value))
    if isinstance(value, numbers.Real):
        return repr(float(value))
    if isinstance(value, str) and key in STREAM_KEYS and value.lower().startswith(IVO_SCHEME):
        return value[len(IVO_SCHEME) :]
    if isinstance(value, str):
        return value
    raise InvalidFilter(key, f"cannot send a {type(value).__name__}")


def encode_time(key: str, value: Any) -> str:
    """A time filter as ISO 8601 UTC text; naive datetimes are taken as UTC, a date as its
    midnight UTC.

    >>> encode_time("authored_since", date(2016, 9, 1))
    '2016-09-01T00:00:00+00:00'
    """
    if isinstance(value, Time):
        if value.size != 1:
            raise InvalidFilter(key, f"expected one time, not {value.size}")
        value = value.ravel()[0].utc.to_datetime(timezone=UTC)
    elif isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat()
    if isinstance(value, str):
        return value
    raise InvalidFilter(
        key, f"expected Time, datetime, date or ISO text, not {type(value).__name__}"
    )


def encode_cone(value: Any) -> str:
    """``(SkyCoord, Angle)``, ``(ra, dec, radius)`` in degrees, or ``"[ra, dec, radius]"`` text.

    Each number may be an ``Angle`` or an angular ``Quantity`` instead. One position only: a
    ``SkyCoord`` holding several, a non-angular unit or a non-finite number raises
    :class:`InvalidFilter`.

    >>> encode_cone((319.7, -34.85, 0.5))
    '[319.7, -34.85, 0.5]'
    >>> encode_cone((1, 2))
    Traceback (most recent call last):
    ...
    vohub.client.errors.InvalidFilter: cone: expected (SkyCoord, Angle) or (ra, dec, radius), \
not (int, int)
    """
    if isinstance(value, str):
        return value
    items = list(value) if isinstance(value, tuple | list) else [value]
    if not (len(items) == 3 or (len(items) == 2 and isinstance(items[0], SkyCoord))):
        given = ", ".join(type(v).__name__ for v in items)
        raise InvalidFilter(
            "cone", f"expected (SkyCoord, Angle) or (ra, dec, radius), not ({given})"
        )
    try:
        if len(items) == 2:
            icrs = items[0].icrs
            angles = [icrs.ra, icrs.dec, Angle(items[1], "deg")]
        else:
            angles = [Angle(v, "deg") for v in items]
        degrees = [_one(a.deg) for a in angles]
    except (TypeError, ValueError, AttributeError, u.UnitsError) as exc:  # text, metres, AltAz...
        raise InvalidFilter("cone", f"not one position and radius: {exc}") from None
    if not all(math.isfinite(n) for n in degrees):
        raise InvalidFilter("cone", f"not finite: {degrees}")
    return "[" + ", ".join(repr(n) for n in degrees) + "]"


def _one(values: Any) -> float:
    """The one number in ``values`` (a number, or an array holding one); ValueError otherwise.

    >>> _one(np.array([3.5])), _one(2)
    (3.5, 2.0)
    """
    flat = np.ravel(values)
    if flat.size != 1:
        raise ValueError(f"{flat.size} values where one is needed")
    return float(flat[0])


def encode_page_size(page_size: int) -> str:
    """``page_size`` (an int, numpy's too) as query text; :class:`InvalidFilter` unless it is
    1 or more.

    >>> encode_page_size(0)
    Traceback (most recent call last):
    ...
    vohub.client.errors.InvalidFilter: page_size: expected 1 or more, not 0
    """
    whole = isinstance(page_size, numbers.Integral) and not isinstance(page_size, bool)
    if not whole or page_size < 1:
        raise InvalidFilter("page_size", f"expected 1 or more, not {page_size!r}")
    return str(int(page_size))

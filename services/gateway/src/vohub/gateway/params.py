"""Parse query strings into archive ``Filter`` messages with voeventdb apiv1 value rules.

Pure functions: raw query string in, decoded pairs out; decoded pairs in, a protobuf
``Filter`` (plus paging) out. Every failure is an :class:`InvalidParameter` naming the key.
Value formats and multi-value rules follow voeventdb apiv1 (see ``FILTERS``); where voeventdb
answered 500 (bad dates, bad offsets) these answer 400, ``role=prediction`` is accepted, and
the numpy-2 cone form ``[np.float64(1.0), …]`` that voeventdb.remote sends today is read.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from datetime import MAXYEAR, UTC, datetime, timedelta, timezone
from urllib.parse import unquote_to_bytes

from vohub.common.timestamps import to_timestamp
from vohub.gateway.errors import InvalidParameter
from vohub.v1 import archive_pb2

Pair = tuple[str, str]
_BAD_PERCENT = re.compile(rb"%(?![0-9A-Fa-f]{2})")


def parse_query_string(raw: str) -> list[Pair]:
    """Split and decode a raw query string as a browser form would (``+`` is a space).

    ``raw`` is the query string as sent, before percent-decoding. Keys without ``=`` get an
    empty value; empty segments are skipped. Malformed percent-escapes, bytes that are not
    UTF-8 and NUL characters are refused, naming the parameter.

    >>> parse_query_string("role=test&role=utility&cone=%5B1%2C2%2C3%5D&x")
    [('role', 'test'), ('role', 'utility'), ('cone', '[1,2,3]'), ('x', '')]
    >>> parse_query_string("ivorn_contains=%ZZ")
    Traceback (most recent call last):
    ...
    vohub.gateway.errors.InvalidParameter: ivorn_contains: malformed percent-escape in value
    """
    pairs = []
    for segment in raw.split("&"):
        if segment:
            key, _, value = segment.partition("=")
            name = _decode(key, "parameter name", key)
            pairs.append((name, _decode(value, "value", name)))
    return pairs


def _decode(text: str, what: str, name: str) -> str:
    if text.isascii() and "%" not in text and "+" not in text:
        decoded = text  # no escapes and no spaces: the text is its own value
    else:
        data = text.encode("latin-1", "replace").replace(b"+", b" ")
        if _BAD_PERCENT.search(data):
            raise InvalidParameter(f"malformed percent-escape in {what}", _printable(name))
        try:
            decoded = unquote_to_bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidParameter(f"{what} is not valid UTF-8", _printable(name)) from None
    if "\x00" in decoded:
        raise InvalidParameter(f"NUL character in {what}", _printable(name))
    return decoded


def _printable(name: str) -> str:
    return name[:64].encode("ascii", "backslashreplace").decode("ascii")


def as_lists(pairs: Sequence[Pair]) -> dict[str, list[str]]:
    """Group values by key in order of appearance: the envelope's ``querystring`` echo.

    >>> as_lists([("role", "test"), ("limit", "3"), ("role", "utility")])
    {'role': ['test', 'utility'], 'limit': ['3']}
    """
    grouped: dict[str, list[str]] = {}
    for key, value in pairs:
        grouped.setdefault(key, []).append(value)
    return grouped


# ---------------------------------------------------------------------------- value parsers

_ISO = re.compile(
    r"(?P<y>\d{4})"
    r"(?:-?(?P<m>\d{1,2})"
    r"(?:-?(?P<d>\d{1,2})"
    r"(?:[T ](?P<H>\d{2})(?::?(?P<M>\d{2})(?::?(?P<S>\d{2})(?:[.,](?P<f>\d+))?)?)?"
    r"(?P<tz>Z|[-+]\d{2}(?::?\d{2})?)?)?)?)?",
    re.ASCII,  # digits 0-9 only: int() would also read other scripts' digits
)


def parse_datetime(text: str, name: str) -> datetime:
    """An ISO 8601 date-time as voeventdb accepts it, as an aware UTC datetime.

    Reduced forms (``2015``, ``2015-10``, ``2015-10-09``), a space for ``T``, the basic form
    and fractional seconds are accepted; naive values are UTC. An offset that takes the
    instant past year 9999 (or before year 1) gives the last (or first) one: a filter bound.

    >>> parse_datetime("2015-09-15T22:19:42.5+01:00", "authored_since").isoformat()
    '2015-09-15T21:19:42.500000+00:00'
    >>> parse_datetime("20150915T211942Z", "authored_until").isoformat()
    '2015-09-15T21:19:42+00:00'
    >>> parse_datetime("2015-10", "authored_since").isoformat()
    '2015-10-01T00:00:00+00:00'
    >>> parse_datetime("yesterday", "authored_since")
    Traceback (most recent call last):
    ...
    vohub.gateway.errors.InvalidParameter: authored_since: not an ISO 8601 date-time: 'yesterday'
    """
    match = _ISO.fullmatch(text.strip())
    if match is None:
        raise InvalidParameter(f"not an ISO 8601 date-time: {text[:80]!r}", name)
    g = match.groupdict()
    fraction = (g["f"] or "0")[:6].ljust(6, "0")
    try:
        value = datetime(
            int(g["y"]),
            int(g["m"] or 1),
            int(g["d"] or 1),
            int(g["H"] or 0),
            int(g["M"] or 0),
            int(g["S"] or 0),
            int(fraction),
            tzinfo=_zone(g["tz"]),
        )
    except ValueError as exc:
        raise InvalidParameter(f"impossible date-time {text[:80]!r}: {exc}", name) from None
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00-05:00 is past the last instant: taken as it
        return (datetime.max if value.year == MAXYEAR else datetime.min).replace(tzinfo=UTC)


def _zone(text: str | None) -> timezone:
    """The UTC offset ``Z``, ``±hh``, ``±hhmm`` or ``±hh:mm``; ValueError beyond 23:59.

    >>> _zone("+05:99")
    Traceback (most recent call last):
    ...
    ValueError: UTC offset minutes must be in 0..59
    """
    if not text or text == "Z":
        return UTC
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    if hours > 23:
        raise ValueError("UTC offset hours must be in 0..23")
    if minutes > 59:
        raise ValueError("UTC offset minutes must be in 0..59")
    offset = timedelta(hours=hours, minutes=minutes)
    return timezone(-offset if text[0] == "-" else offset)


def parse_bool(text: str, name: str) -> bool:
    """``true`` or ``false`` in any case, with no blanks around (voeventdb's rule).

    >>> parse_bool("FALSE", "cited"), parse_bool("True", "coord")
    (False, True)
    """
    lowered = text.lower()
    if lowered not in ("true", "false"):
        raise InvalidParameter(f"not a boolean (true or false): {text[:80]!r}", name)
    return lowered == "true"


#: A decimal number as the API takes it: ASCII digits, a point, an exponent (``float`` also
#: reads ``1_0`` as 10 and digits of other scripts).
_DECIMAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


def parse_float(text: str, name: str, low: float = -math.inf, high: float = math.inf) -> float:
    """A finite decimal number within ``[low, high]``.

    >>> parse_float("-30.5", "dec_gt", -90, 90)
    -30.5
    >>> parse_float("91", "dec_lt", -90, 90)
    Traceback (most recent call last):
    ...
    vohub.gateway.errors.InvalidParameter: dec_lt: 91.0 is outside [-90, 90]
    >>> parse_float("1_0", "dec_gt")
    Traceback (most recent call last):
    ...
    vohub.gateway.errors.InvalidParameter: dec_gt: not a number: '1_0'
    """
    try:
        value = float(text)
    except ValueError:
        raise InvalidParameter(f"not a number: {text[:80]!r}", name) from None
    if not math.isfinite(value):
        raise InvalidParameter(f"not a finite number: {text[:80]!r}", name)
    if not _DECIMAL.fullmatch(text.strip()):
        raise InvalidParameter(f"not a number: {text[:80]!r}", name)
    if not low <= value <= high:
        raise InvalidParameter(f"{value!r} is outside [{low:g}, {high:g}]", name)
    return value


_NUMPY_SCALAR = re.compile(r"np\.\w+\(\s*([^()]*?)\s*\)")


def parse_cone(text: str, name: str = "cone") -> archive_pb2.Cone:
    """``[ra, dec, radius]`` in degrees: JSON, the numpy-2 repr, or bare ``ra,dec,radius``.

    >>> parse_cone("[np.float64(319.7), np.float64(-34.85), np.float64(0.5)]")
    ra: 319.7
    dec: -34.85
    radius: 0.5
    <BLANKLINE>
    >>> parse_cone("[10, 95, 1]")
    Traceback (most recent call last):
    ...
    vohub.gateway.errors.InvalidParameter: cone: dec 95.0 is outside [-90, 90]
    """
    body = _NUMPY_SCALAR.sub(r"\1", text.strip())
    if not body.startswith("["):
        body = f"[{body}]"
    try:  # an integer too large for a double becomes inf, refused below, not an OverflowError
        items = json.loads(body, parse_int=float)
    except (ValueError, RecursionError):
        raise InvalidParameter(f"not [ra, dec, radius]: {text[:80]!r}", name) from None
    if not isinstance(items, list) or len(items) != 3 or not all(_is_number(v) for v in items):
        raise InvalidParameter(f"not [ra, dec, radius] in degrees: {text[:80]!r}", name)
    ra, dec, radius = (float(v) for v in items)
    if not all(math.isfinite(v) for v in (ra, dec, radius)):
        raise InvalidParameter(f"not finite numbers: {text[:80]!r}", name)
    if not -90 <= dec <= 90:
        raise InvalidParameter(f"dec {dec!r} is outside [-90, 90]", name)
    if not 0 <= radius <= 180:
        raise InvalidParameter(f"radius {radius!r} is outside [0, 180]", name)
    return archive_pb2.Cone(ra=ra % 360.0, dec=dec, radius=radius)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


ROLES = {
    "observation": archive_pb2.OBSERVATION,
    "prediction": archive_pb2.PREDICTION,
    "utility": archive_pb2.UTILITY,
    "test": archive_pb2.TEST,
}


def parse_role(text: str, name: str = "role") -> archive_pb2.Role.ValueType:
    """One of ``observation``, ``prediction``, ``utility``, ``test`` (case-sensitive).

    >>> parse_role("test") == archive_pb2.TEST
    True
    """
    if text not in ROLES:
        raise InvalidParameter(f"not a role (one of {', '.join(ROLES)}): {text[:80]!r}", name)
    return ROLES[text]


IVO_SCHEME = "ivo://"


def parse_stream(text: str, name: str = "stream") -> str:
    """A stream as the archive stores it: an author IVORN's ``ivo://`` scheme is dropped, so
    ``ivo://nasa.gsfc.gcn/SWIFT`` finds what ``nasa.gsfc.gcn/SWIFT`` finds (apiv2 only; voeventdb
    matches nothing for it).

    >>> parse_stream("ivo://nasa.gsfc.gcn/SWIFT"), parse_stream("gaia.cam.uk/alerts")
    ('nasa.gsfc.gcn/SWIFT', 'gaia.cam.uk/alerts')
    """
    if text.lower().startswith(IVO_SCHEME):
        return text[len(IVO_SCHEME) :]
    return text


# ---------------------------------------------------------------------------- the filter table

Setter = Callable[[archive_pb2.Filter, str, list[str]], None]


def _first(parse: Callable[[str, str], object], field: str) -> Setter:
    """Every value is validated, only the first one takes effect (voeventdb's rule)."""

    def setter(target: archive_pb2.Filter, name: str, values: list[str]) -> None:
        parsed = [parse(v, name) for v in values]
        value = parsed[0]
        if isinstance(value, datetime):
            getattr(target, field).CopyFrom(to_timestamp(value))
        elif isinstance(value, archive_pb2.Cone):
            target.cone.CopyFrom(value)
        else:
            setattr(target, field, value)

    return setter


def _many(field: str, parse: Callable[[str, str], object] | None = None) -> Setter:
    """Every value is kept (OR or AND, as the archive's field documents)."""

    def setter(target: archive_pb2.Filter, name: str, values: list[str]) -> None:
        items = [parse(v, name) for v in values] if parse else values
        getattr(target, field).extend(items)

    return setter


def _dec(text: str, name: str) -> float:
    return parse_float(text, name, -90.0, 90.0)


def _once(parse: Callable[[str, str], object], field: str) -> Setter:
    """apiv2's rule for a one-value filter: given twice, it is a 400, not the first one."""
    first = _first(parse, field)

    def setter(target: archive_pb2.Filter, name: str, values: list[str]) -> None:
        if len(values) > 1:
            raise InvalidParameter("given more than once", name)
        first(target, name, values)

    return setter


#: The filter keys that take one value, with their parsers.
ONE_VALUE: dict[str, Callable[[str, str], object]] = {
    "authored_since": parse_datetime,
    "authored_until": parse_datetime,
    "cited": parse_bool,
    "cone": parse_cone,
    "coord": parse_bool,
    "dec_gt": _dec,
    "dec_lt": _dec,
    "ref_any": parse_bool,
}

#: The 14 apiv1 filter keys and how each one's values become part of the Filter.
FILTERS: dict[str, Setter] = {
    **{name: _first(parse, name) for name, parse in ONE_VALUE.items()},
    "ivorn_contains": _many("ivorn_contains"),
    "ivorn_prefix": _many("ivorn_prefix"),
    "ref_contains": _many("ref_contains"),
    "ref_exact": _many("ref_exact"),
    "role": _many("role", parse_role),
    "stream": _many("stream"),
}

#: The apiv2 table: a one-value filter may be given once; streams may keep their ``ivo://``;
#: stream prefixes and the observation-time range of a position are added.
FILTERS_V2: dict[str, Setter] = {
    **FILTERS,
    **{name: _once(parse, name) for name, parse in ONE_VALUE.items()},
    "stream": _many("stream", parse_stream),
    "stream_prefix": _many("stream_prefix", parse_stream),
    "event_since": _once(parse_datetime, "event_since"),
    "event_until": _once(parse_datetime, "event_until"),
}


def build_filter(
    grouped: dict[str, list[str]], table: dict[str, Setter], extra: Sequence[str] = ()
) -> archive_pb2.Filter:
    """The Filter for the query's filter keys; any key not in ``table`` or ``extra`` is a 400.

    >>> f = build_filter({"role": ["test", "utility"], "cited": ["True"]}, FILTERS)
    >>> list(f.role) == [archive_pb2.TEST, archive_pb2.UTILITY], f.cited
    (True, True)
    >>> build_filter({"rôle": ["test"]}, FILTERS)
    Traceback (most recent call last):
    ...
    vohub.gateway.errors.InvalidParameter: rôle: unknown query parameter
    """
    target = archive_pb2.Filter()
    for name, values in grouped.items():
        if name in table:
            table[name](target, name, values)
        elif name not in extra:
            raise InvalidParameter("unknown query parameter", _printable(name))
    return target

"""voevent-parse's reader functions, with the same names and return shapes, bugs fixed.

Fixed against voevent-parse 1.0.3: the coordinate system of position ``index`` is that
ObsDataLocation's own (not always the first one's); TT, GPS, TCB and TCG times convert
instead of raising ``NotImplementedError``; a missing ``version`` is not a ``KeyError``;
nothing mutates a shared tree, so every reader is thread-safe.  Real packets it misread:
a position without ``Position2D`` (LVC's) raises ``ValueError`` and a packet without an
``ObsDataLocation`` ``IndexError``, not objectify's ``AttributeError``; a ``Position2D``
without ``unit`` is read in degrees, not a ``KeyError``; VOEvent 1.1's STC-namespaced
``ObsDataLocation`` gives its position and time (voevent-parse found none); GAIA's
``timescale`` Param (``TCB``) is honoured where voevent-parse took the ``TDB`` of the
coordinate system id (about 20 s off); a Param's ``<Value>`` child is its ``value`` and a
``datatype`` attribute (GECAM's spelling) its ``dataType``.  Readers accept a parsed
:class:`~vohub.voevent.model.Packet` or anything :func:`vohub.voevent.parse` accepts.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import NamedTuple

from vohub.voevent.loader import Source, parse
from vohub.voevent.model import Packet, Param, Position


class Position2D(NamedTuple):
    """voevent-parse's position tuple: RA, Dec, error radius (degrees), units, system."""

    ra: float
    dec: float
    err: float | None
    units: str
    system: str | None


class MultiDict:
    """A read-only ordered multi-dict, the subset of ``orderedmultidict.omdict`` readers use.

    ``d[key]`` and ``d.get(key)`` give the first value, ``getlist`` all of them.

    >>> d = MultiDict([("a", 1), ("b", 2), ("a", 3)])
    >>> d["a"], d.getlist("a"), list(d), len(d), d.allvalues()
    (1, [1, 3], ['a', 'b'], 2, [1, 2, 3])
    """

    def __init__(self, items: list[tuple[str | None, object]]) -> None:
        self._items = list(items)

    def __getitem__(self, key: str | None) -> object:
        for k, v in self._items:
            if k == key:
                return v
        raise KeyError(key)

    def get(self, key: str | None, default: object = None) -> object:
        """The first value for ``key``, or ``default``.

        >>> d = MultiDict([("a", 1), ("a", 3)])
        >>> d.get("a"), d.get("b"), d.get("b", 0)
        (1, None, 0)
        """
        try:
            return self[key]
        except KeyError:
            return default

    def getlist(self, key: str | None) -> list[object]:
        """Every value for ``key``, in document order.

        >>> MultiDict([("a", 1), ("b", 2), ("a", 3)]).getlist("a")
        [1, 3]
        """
        return [v for k, v in self._items if k == key]

    def keys(self) -> list[str | None]:
        """Distinct keys in first-seen order.

        >>> MultiDict([("b", 1), ("a", 2), ("b", 3)]).keys()
        ['b', 'a']
        """
        return list(dict.fromkeys(k for k, _ in self._items))

    def allitems(self) -> list[tuple[str | None, object]]:
        """Every ``(key, value)`` pair, duplicates included.

        >>> MultiDict([("a", 1), ("a", 2)]).allitems()
        [('a', 1), ('a', 2)]
        """
        return list(self._items)

    def allvalues(self) -> list[object]:
        """Every value, duplicates included.

        >>> MultiDict([("a", 1), ("b", 2), ("a", 3)]).allvalues()
        [1, 2, 3]
        """
        return [v for _, v in self._items]

    def __iter__(self) -> Iterator[str | None]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.keys())

    def __contains__(self, key: object) -> bool:
        return any(k == key for k, _ in self._items)


def _packet(v: Packet | Source) -> Packet:
    return v if isinstance(v, Packet) else parse(v)


def _attributes(param: Param) -> dict[str, str]:
    """The Param's XML attributes as voevent-parse returns them (absent ones left out).

    ``value`` is read from a ``<Value>`` child too, and ``datatype`` is spelt ``dataType``.
    """
    pairs = (
        ("name", param.name),
        ("value", param.value),
        ("unit", param.unit),
        ("ucd", param.ucd),
        ("dataType", param.datatype),
        ("utype", param.utype),
    )
    return {k: v for k, v in pairs if v is not None}


def get_toplevel_params(v: Packet | Source) -> MultiDict:
    """Top-level ``What/Param``: a multi-dict of name → attribute dict.

    >>> from vohub.voevent.model import Packet, Param
    >>> p = Packet("ivo://a.b/c#1", "test", "2.0", b"", params=(Param("x", "1", unit="s"),))
    >>> get_toplevel_params(p)["x"]
    {'name': 'x', 'value': '1', 'unit': 's'}
    """
    return MultiDict([(p.name, _attributes(p)) for p in _packet(v).params])


def get_grouped_params(v: Packet | Source) -> MultiDict:
    """``What/Group``: a multi-dict of group name → (multi-dict of param name → attributes).

    >>> from vohub.voevent.model import Group, Packet, Param
    >>> g = Group("flags", params=(Param("ok", "true"),))
    >>> get_grouped_params(Packet("ivo://a.b/c#1", "test", "2.0", b"", groups=(g,)))["flags"]["ok"]
    {'name': 'ok', 'value': 'true'}
    """
    packet = _packet(v)
    return MultiDict(
        [(g.name, MultiDict([(p.name, _attributes(p)) for p in g.params])) for g in packet.groups]
    )


def _position(packet: Packet, index: int) -> Position:
    """Position ``index`` of ``packet``, or an IndexError naming the packet."""
    try:
        return packet.positions[index]
    except IndexError:
        raise IndexError(
            f"{packet.ivorn}: no position {index} (it has {len(packet.positions)})"
        ) from None


def get_event_position(v: Packet | Source, index: int = 0) -> Position2D:
    """Position ``index`` as voevent-parse's ``Position2D`` (degrees).

    Raises
    ------
    IndexError
        There is no such position.
    ValueError
        The position has no RA/Dec.

    Examples
    --------
    >>> from vohub.voevent.model import Packet, Position
    >>> pos = Position(ra=1.0, dec=2.0, error=0.1, unit="deg", coord_system="UTC-FK5-GEO")
    >>> get_event_position(Packet("ivo://a.b/c#1", "test", "2.0", b"", positions=(pos,)))
    Position2D(ra=1.0, dec=2.0, err=0.1, units='deg', system='UTC-FK5-GEO')
    """
    packet = _packet(v)
    pos = _position(packet, index)
    if pos.ra is None or pos.dec is None:
        raise ValueError(f"{packet.ivorn}: position {index} has no RA/Dec")
    return Position2D(pos.ra, pos.dec, pos.error, "deg", pos.coord_system)


def get_event_time_as_utc(v: Packet | Source, index: int = 0) -> datetime | None:
    """The observation time of position ``index`` as an aware UTC datetime.

    None when the packet has no position at all, or the position no ``ISOTime``.

    Raises
    ------
    IndexError
        The packet has positions, but not this one.
    ValueError
        The ``ISOTime`` is not a date-time (``2014-00-00T14:24:55.31``).

    Examples
    --------
    >>> from vohub.voevent.model import Packet, Position
    >>> get_event_time_as_utc(Packet("ivo://a.b/c#1", "test", "2.0", b"")) is None
    True
    >>> bad = Position(iso_time="2014-00-00T14:24:55.31")
    >>> get_event_time_as_utc(Packet("ivo://a.b/c#1", "test", "2.0", b"", positions=(bad,)))
    Traceback (most recent call last):
    ...
    ValueError: ivo://a.b/c#1: position 0: ISOTime '2014-00-00T14:24:55.31' is not a date-time
    """
    packet = _packet(v)
    if not packet.positions:
        return None
    pos = _position(packet, index)
    if pos.iso_time is not None and pos.time is None:
        raise ValueError(
            f"{packet.ivorn}: position {index}: ISOTime {pos.iso_time!r} is not a date-time"
        )
    return pos.time

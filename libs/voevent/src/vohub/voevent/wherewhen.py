"""Read ``WhereWhen/ObsDataLocation`` elements into positions in degrees with UTC times.

Each ObsDataLocation is read on its own (its own coordinate system, unlike voevent-parse,
which took the first one's for all).  ``Position2D`` values are converted from their unit
to degrees.  The observation time scale is, in order of precedence: a 2.1 ``TimeScale``
element, a top-level ``timescale`` Param (GAIA writes ``TCB`` there while its
coord_system_id says TDB), then the first token of the coordinate system id.
"""

from __future__ import annotations

import math
from datetime import datetime

from lxml import etree

from vohub.voevent.model import Param, Position
from vohub.voevent.timescale import SCALES, scale_of, to_utc

Element = etree._Element

#: Position2D units we convert, as degrees per unit.
DEGREES_PER_UNIT = {
    "deg": 1.0,
    "degree": 1.0,
    "degrees": 1.0,
    "arcmin": 1.0 / 60.0,
    "arcsec": 1.0 / 3600.0,
    "mas": 1.0 / 3_600_000.0,
    "rad": 180.0 / math.pi,
}


def _local(tag: str) -> str:
    return tag if tag[0] != "{" else tag[tag.index("}") + 1 :]


def _children(el: Element) -> dict[str, Element]:
    """Child elements by local name (the first of each)."""
    found: dict[str, Element] = {}
    for child in el:
        tag = child.tag
        if tag[0] == "{":
            tag = tag[tag.index("}") + 1 :]
        if tag not in found:
            found[tag] = child
    return found


def read_wherewhen(
    wherewhen: Element, params: tuple[Param, ...], problems: list[str]
) -> tuple[Position, ...]:
    """One :class:`Position` per ``ObsDataLocation`` under ``wherewhen``.

    ``params`` are the packet's top-level Params (for the ``timescale`` override).

    Examples
    --------
    >>> xml = (b"<WhereWhen><ObsDataLocation><ObservatoryLocation id='GEOLUN'/>"
    ...        b"<ObservationLocation><AstroCoordSystem id='UTC-FK5-GEO'/>"
    ...        b"<AstroCoords coord_system_id='UTC-FK5-GEO'><Time><TimeInstant>"
    ...        b"<ISOTime>2014-04-29T23:13:32.00</ISOTime></TimeInstant></Time>"
    ...        b"<Position2D unit='arcsec'><Value2><C1>36000</C1><C2>-3600</C2></Value2>"
    ...        b"<Error2Radius>36</Error2Radius></Position2D></AstroCoords>"
    ...        b"</ObservationLocation></ObsDataLocation></WhereWhen>")
    >>> [pos] = read_wherewhen(etree.fromstring(xml), (), [])
    >>> pos.ra, pos.dec, pos.error, pos.unit, pos.time.isoformat()
    (10.0, -1.0, 0.01, 'arcsec', '2014-04-29T23:13:32+00:00')
    """
    override = _timescale_param(params)
    return tuple(
        _read_location(child, override, problems)
        for child in wherewhen
        if _local(child.tag) == "ObsDataLocation"
    )


def _timescale_param(params: tuple[Param, ...]) -> str | None:
    """The value of a top-level Param named ``timescale`` (GAIA's spelling), upper-cased."""
    for param in params:
        if param.name == "timescale" and param.value:
            return param.value.strip().upper()
    return None


def _read_location(odl: Element, override: str | None, problems: list[str]) -> Position:
    """One ObsDataLocation: observatory id, coordinate system, time and Position2D."""
    parts = _children(odl)
    observatory = parts["ObservatoryLocation"].get("id") if "ObservatoryLocation" in parts else None
    location = parts.get("ObservationLocation")
    if location is None:
        problems.append("ObsDataLocation without ObservationLocation")
        return Position(observatory=observatory)
    inner = _children(location)
    system_el, coords = inner.get("AstroCoordSystem"), inner.get("AstroCoords")
    if coords is None:
        problems.append("ObservationLocation without AstroCoords")
        coords = etree.Element("AstroCoords")
    system = coords.get("coord_system_id") or (
        system_el.get("id") if system_el is not None else None
    )
    found = _children(coords)
    iso, stated_scale = _time_parts(found.get("Time"), system_el)
    scale = stated_scale or override or scale_of(system)
    if override and scale_of(system) not in (None, override) and not stated_scale:
        problems.append(f"time scale {override} from the timescale Param overrides {system}")
    time = _convert_time(iso, scale, problems)
    ra, dec, error, unit = _read_position2d(found.get("Position2D"), problems)
    return Position(
        ra,
        dec,
        error,
        unit,
        system,
        time,
        iso,
        scale if iso else None,
        observatory,
        _text(found.get("PositionName")),
    )


def _time_parts(
    time_el: Element | None, system_el: Element | None
) -> tuple[str | None, str | None]:
    """``(ISOTime text, explicit 2.1 TimeScale)`` of a ``Time`` element."""
    iso = scale = None
    if time_el is not None:
        for instant in time_el:
            if _local(instant.tag) != "TimeInstant":
                continue
            for item in instant:
                tag = _local(item.tag)
                if tag == "ISOTime" and item.text:
                    iso = item.text.strip()
                elif tag == "TimeScale" and item.text:
                    scale = item.text.strip().upper()
    if scale is None and system_el is not None and len(system_el):
        for node in system_el.iter():
            if _local(str(node.tag)) == "TimeScale" and node.text:
                scale = node.text.strip().upper()
    return iso or None, scale


def _convert_time(iso: str | None, scale: str | None, problems: list[str]) -> datetime | None:
    """The UTC datetime for ``iso`` in ``scale``, or None with a problem recorded."""
    if iso is None:
        return None
    if scale is not None and scale not in SCALES:
        problems.append(f"unknown time scale {scale!r}; ISOTime {iso!r} taken as UTC")
        scale = "UTC"
    try:
        return to_utc(iso, scale)
    except ValueError as exc:
        problems.append(f"ISOTime {iso!r}: {exc}")
        return None


def _read_position2d(
    pos: Element | None, problems: list[str]
) -> tuple[float | None, float | None, float | None, str | None]:
    """``(ra, dec, error)`` in degrees and the unit as written, from a Position2D."""
    if pos is None:
        return None, None, None, None
    unit = pos.get("unit")
    parts = _children(pos)
    names = (_text(parts.get("Name1")), _text(parts.get("Name2")))
    value2 = parts.get("Value2")
    if names not in ((None, None), ("RA", "Dec")):
        problems.append(f"Position2D names {names} are not (RA, Dec); position dropped")
        return None, None, None, unit
    factor = _unit_factor(unit, problems)
    if factor is None:
        return None, None, None, unit
    cells = _children(value2) if value2 is not None else {}
    ra = _number(cells.get("C1"), "Value2/C1", factor, problems)
    dec = _number(cells.get("C2"), "Value2/C2", factor, problems)
    error = _number(parts.get("Error2Radius"), "Error2Radius", factor, problems, required=False)
    if dec is not None and not -90.0 <= dec <= 90.0:
        problems.append(f"Dec {dec} is outside [-90, 90]")
    return ra, dec, error, unit


def _unit_factor(unit: str | None, problems: list[str]) -> float | None:
    if unit is None:
        problems.append("Position2D has no unit; degrees assumed")
        return 1.0
    factor = DEGREES_PER_UNIT.get(unit.strip().lower())
    if factor is None:
        problems.append(f"Position2D unit {unit!r} is not an angle unit; position dropped")
    return factor


def _text(el: Element | None) -> str | None:
    return el.text.strip() if el is not None and el.text else None


def _number(
    el: Element | None, what: str, factor: float, problems: list[str], *, required: bool = True
) -> float | None:
    """The element's text as a float times ``factor``; None (and a problem) if unreadable."""
    text = _text(el)
    if text is None:
        if required:
            problems.append(f"Position2D without {what}")
        return None
    try:
        value = float(text)
    except ValueError:
        problems.append(f"Position2D {what} {text!r} is not a number")
        return None
    if not math.isfinite(value):
        problems.append(f"Position2D {what} is {text!r}")
        return None
    return value if factor == 1.0 else value * factor

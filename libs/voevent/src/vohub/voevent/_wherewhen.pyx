# cython: language_level=3, boundscheck=False, wraparound=False
"""Read ``WhereWhen/ObsDataLocation`` elements into positions in degrees with UTC times.

Each ObsDataLocation is read on its own (its own coordinate system, unlike voevent-parse,
which took the first one's for all).  ``Position2D`` values are converted from their unit
to degrees.  The observation time scale is, in order of precedence: a 2.1 ``TimeScale``
element, a top-level ``timescale`` Param (GAIA writes ``TCB`` there while its
coord_system_id says TDB), then the first token of the coordinate system id.  Compiled:
elements are read straight from libxml2's tree as ``_tree.pxd`` says.
"""

import math

from cpython.float cimport PyFloat_FromString
from libc.math cimport isfinite
from lxml.includes cimport etreepublic as cetree
from lxml.includes cimport tree
from lxml.includes.tree cimport xmlNode

from vohub.voevent._slots cimport Layout, layout_of, new
from vohub.voevent._tree cimport (
    child,
    get,
    is_named,
    node_text,
    require_build_lxml,
    stripped_or_empty,
)

from vohub.voevent.model import Position
from vohub.voevent.timescale import SCALES, OutOfRange, scale_of, to_utc

cetree.import_lxml__etree()
require_build_lxml()

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

cdef Layout _POSITION = layout_of(Position)


def read_positions(cetree._Element wherewhen not None, str timescale, list problems not None):
    """One :class:`~vohub.voevent.model.Position` per ``ObsDataLocation`` in ``wherewhen``.

    ``timescale`` is the value of the packet's top-level ``timescale`` Param, or None.

    Examples
    --------
    >>> from lxml import etree
    >>> xml = (b"<WhereWhen><ObsDataLocation><ObservatoryLocation id='GEOLUN'/>"
    ...        b"<ObservationLocation><AstroCoordSystem id='UTC-FK5-GEO'/>"
    ...        b"<AstroCoords coord_system_id='UTC-FK5-GEO'><Time><TimeInstant>"
    ...        b"<ISOTime>2014-04-29T23:13:32.00</ISOTime></TimeInstant></Time>"
    ...        b"<Position2D unit='arcsec'><Value2><C1>36000</C1><C2>-3600</C2></Value2>"
    ...        b"<Error2Radius>36</Error2Radius></Position2D></AstroCoords>"
    ...        b"</ObservationLocation></ObsDataLocation></WhereWhen>")
    >>> [pos] = read_positions(etree.fromstring(xml), None, [])
    >>> pos.ra, pos.dec, pos.error, pos.unit, pos.time.isoformat()
    (10.0, -1.0, 0.01, 'arcsec', '2014-04-29T23:13:32+00:00')
    """
    override = timescale.strip().upper() if timescale else None
    positions = []
    cdef xmlNode* c_child = wherewhen._c_node.children
    while c_child is not NULL:
        if is_named(c_child, "ObsDataLocation"):
            positions.append(_location(c_child, override, problems))
        c_child = c_child.next
    return tuple(positions)


cdef object _location(xmlNode* c_odl, str override, list problems):
    """One ObsDataLocation: observatory id, coordinate system, time and Position2D."""
    cdef xmlNode* c_observatory = child(c_odl, "ObservatoryLocation")
    observatory = get(c_observatory, "id") if c_observatory is not NULL else None
    cdef xmlNode* c_location = child(c_odl, "ObservationLocation")
    if c_location is NULL:
        problems.append("ObsDataLocation without ObservationLocation")
        return new(&_POSITION, (None,) * 8 + (observatory, None))
    cdef xmlNode* c_system = child(c_location, "AstroCoordSystem")
    cdef xmlNode* c_coords = child(c_location, "AstroCoords")
    if c_coords is NULL:
        problems.append("ObservationLocation without AstroCoords")
    system = get(c_coords, "coord_system_id") if c_coords is not NULL else None
    if not system:
        system = get(c_system, "id") if c_system is not NULL else None
    iso, stated_scale = _time_parts(child(c_coords, "Time"), c_system)
    system_scale = scale_of(system)
    scale = stated_scale or override or system_scale
    if override and system_scale is not None and system_scale != override and not stated_scale:
        problems.append(f"time scale {override} from the timescale Param overrides {system}")
    time = _convert_time(iso, scale, problems)
    ra, dec, error, unit = _position2d(child(c_coords, "Position2D"), problems)
    return new(&_POSITION, (
        ra,
        dec,
        error,
        unit,
        system,
        time,
        iso,
        scale if iso else None,
        observatory,
        stripped_or_empty(child(c_coords, "PositionName")),
    ))


cdef xmlNode* _next_within(xmlNode* c_node, xmlNode* c_top) noexcept:
    """The node after ``c_node`` in document order inside ``c_top`` (entering elements only)."""
    if c_node.type == tree.XML_ELEMENT_NODE and c_node.children is not NULL:
        return c_node.children
    while c_node is not c_top:
        if c_node.next is not NULL:
            return c_node.next
        c_node = c_node.parent
    return NULL


cdef str _scale_text(xmlNode* c_node, str scale):
    """A TimeScale element's text stripped and upper-cased; ``scale`` if it has none."""
    cdef str written = node_text(c_node)
    return written.strip().upper() if written else scale


cdef tuple _time_parts(xmlNode* c_time, xmlNode* c_system):
    """``(ISOTime, explicit TimeScale)``: the last non-empty of each in Time's TimeInstants;
    failing a TimeScale there, the last one anywhere inside ``AstroCoordSystem``."""
    cdef str iso = None, scale = None, written
    cdef xmlNode* c_instant = c_time.children if c_time is not NULL else NULL
    cdef xmlNode* c_item
    while c_instant is not NULL:
        if is_named(c_instant, "TimeInstant"):
            c_item = c_instant.children
            while c_item is not NULL:
                if is_named(c_item, "ISOTime"):
                    written = node_text(c_item)
                    iso = written.strip() if written else iso
                elif is_named(c_item, "TimeScale"):
                    scale = _scale_text(c_item, scale)
                c_item = c_item.next
        c_instant = c_instant.next
    if scale is None and c_system is not NULL:
        c_item = c_system.children
        while c_item is not NULL:
            if is_named(c_item, "TimeScale"):
                scale = _scale_text(c_item, scale)
            c_item = _next_within(c_item, c_system)
    return iso or None, scale


cdef object _convert_time(str iso, str scale, list problems):
    """The UTC datetime for ``iso`` in ``scale``, or None with a problem recorded."""
    if iso is None:
        return None
    if scale is not None and scale not in SCALES:
        problems.append(f"unknown time scale {scale!r}; ISOTime {iso!r} taken as UTC")
        scale = "UTC"
    try:
        return to_utc(iso, scale)
    except OutOfRange as exc:
        problems.append(f"ISOTime {exc}")
        return None
    except ValueError as exc:
        problems.append(f"ISOTime {iso!r}: {exc}")
        return None


cdef tuple _position2d(xmlNode* c_pos, list problems):
    """``(ra, dec, error)`` in degrees and the unit as written, from a Position2D."""
    if c_pos is NULL:
        return None, None, None, None
    unit = get(c_pos, "unit")
    names = (stripped_or_empty(child(c_pos, "Name1")), stripped_or_empty(child(c_pos, "Name2")))
    if names not in ((None, None), ("RA", "Dec")):
        problems.append(f"Position2D names {names} are not (RA, Dec); position dropped")
        return None, None, None, unit
    factor = _unit_factor(unit, problems)
    if factor is None:
        return None, None, None, unit
    cdef xmlNode* c_value2 = child(c_pos, "Value2")
    ra = _number(child(c_value2, "C1"), "Value2/C1", factor, problems, True)
    dec = _number(child(c_value2, "C2"), "Value2/C2", factor, problems, True)
    error = _number(child(c_pos, "Error2Radius"), "Error2Radius", factor, problems, False)
    if dec is not None and not -90.0 <= dec <= 90.0:
        problems.append(f"Dec {dec} is outside [-90, 90]")
    return ra, dec, error, unit


cdef object _unit_factor(str unit, list problems):
    """Degrees per ``unit``; None (and a problem) when it is no angle unit."""
    if unit is None:
        problems.append("Position2D has no unit; degrees assumed")
        return 1.0
    factor = DEGREES_PER_UNIT.get(unit.strip().lower())
    if factor is None:
        problems.append(f"Position2D unit {unit!r} is not an angle unit; position dropped")
    return factor


cdef object _number(xmlNode* c_node, str what, object factor, list problems, bint required):
    """The element's text as a float times ``factor``; None (and a problem) if unreadable."""
    written = stripped_or_empty(c_node)
    if written is None:
        if required:
            problems.append(f"Position2D without {what}")
        return None
    try:
        value = PyFloat_FromString(written)  # float(), not Cython's own parser
    except ValueError:
        problems.append(f"Position2D {what} {written!r} is not a number")
        return None
    if not isfinite(value):
        problems.append(f"Position2D {what} is {written!r}")
        return None
    return value if factor == 1.0 else value * factor

"""The typed, immutable VOEvent model that every vohub service reads packets into.

Angles are decimal degrees, times are timezone-aware UTC ``datetime`` objects; the
astropy conversions live in :mod:`vohub.voevent.astro` so that importing the model
stays cheap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from vohub.voevent.ivorn import stream_of

#: The four roles the VOEvent 2.0 schema allows.
ROLES = ("observation", "prediction", "utility", "test")
#: The citation types of ``Citations/EventIVORN/@cite``.
CITE_TYPES = ("followup", "supersedes", "retraction")


@dataclass(frozen=True, slots=True)
class Param:
    """One ``<Param>``: raw attribute text plus a typed view of the value.

    >>> Param(name="Packet_Type", value="61", datatype="int").typed_value
    61
    """

    name: str | None
    value: str | None = None
    unit: str | None = None
    ucd: str | None = None
    datatype: str | None = None
    utype: str | None = None
    description: str | None = None

    @property
    def typed_value(self) -> int | float | bool | str | None:
        """The value converted as ``dataType`` says (int, float, boolean), else the text.

        >>> Param(name="x", value="1.5e-3", datatype="float").typed_value
        0.0015
        >>> Param(name="flag", value="true").typed_value
        'true'
        """
        if self.value is None:
            return None
        kind = (self.datatype or "string").lower()
        text = self.value.strip()
        try:
            if kind in ("int", "integer", "long", "short"):
                return int(text)
            if kind in ("float", "double", "real"):
                return float(text)
        except ValueError:
            return self.value
        if kind in ("bool", "boolean"):
            return text.lower() in ("true", "1", "yes")
        return self.value


@dataclass(frozen=True, slots=True)
class Group:
    """One ``What/Group`` with its params, in document order."""

    name: str | None
    type: str | None = None
    params: tuple[Param, ...] = ()
    description: str | None = None

    def param(self, name: str) -> Param | None:
        """The first param called ``name``, or None.

        >>> Group("g", params=(Param("a", "1"),)).param("a").value
        '1'
        """
        return next((p for p in self.params if p.name == name), None)


@dataclass(frozen=True, slots=True)
class Table:
    """One ``What/Table``: its Params, its Field declarations (as Params without a value)
    and its rows of cell text.

    >>> Table("t", fields=(Param("x"),), rows=(("1",), ("2",))).column("x")
    ('1', '2')
    """

    name: str | None
    type: str | None = None
    description: str | None = None
    params: tuple[Param, ...] = ()
    fields: tuple[Param, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()

    def column(self, name: str) -> tuple[str, ...]:
        """The cells of the column whose Field is called ``name`` (KeyError if none).

        >>> table = Table("t", fields=(Param("x"), Param("y")), rows=(("1", "2"), ("3",)))
        >>> table.column("y")
        ('2', '')
        >>> table.column("z")
        Traceback (most recent call last):
        ...
        KeyError: 'z'
        """
        index = next((i for i, f in enumerate(self.fields) if f.name == name), None)
        if index is None:
            raise KeyError(name)
        return tuple(row[index] if index < len(row) else "" for row in self.rows)


@dataclass(frozen=True, slots=True)
class Reference:
    """A ``<Reference uri= type= meaning= mimetype=>`` link."""

    uri: str
    type: str | None = None
    meaning: str | None = None
    mimetype: str | None = None


@dataclass(frozen=True, slots=True)
class Position:
    """One ``WhereWhen/ObsDataLocation``: where and when, as written and in UTC.

    ``ra``/``dec``/``error`` are in degrees (converted from the ``Position2D`` unit);
    ``time`` is the observation time converted to UTC from ``time_scale``.
    """

    ra: float | None = None
    dec: float | None = None
    error: float | None = None
    unit: str | None = None
    coord_system: str | None = None
    time: datetime | None = None
    iso_time: str | None = None
    time_scale: str | None = None
    observatory: str | None = None
    position_name: str | None = None


@dataclass(frozen=True, slots=True)
class Citation:
    """One cited event: ``Citations/EventIVORN``, its ``cite`` type and the shared description."""

    ivorn: str
    cite: str
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Author:
    """``Who/Author`` contact details (all optional in the schema)."""

    title: str | None = None
    short_name: str | None = None
    logo_url: str | None = None
    contact_name: str | None = None
    contact_email: str | None = None
    contact_phone: str | None = None
    contributor: str | None = None


@dataclass(frozen=True, slots=True)
class Inference:
    """One ``Why/Inference``."""

    probability: float | None = None
    relation: str | None = None
    names: tuple[str, ...] = ()
    concepts: tuple[str, ...] = ()
    descriptions: tuple[str, ...] = ()
    references: tuple[Reference, ...] = ()


@dataclass(frozen=True, slots=True)
class Why:
    """``Why``: importance, expiry, inferences and the bare Name/Concept children."""

    importance: float | None = None
    expires: datetime | None = None
    inferences: tuple[Inference, ...] = ()
    names: tuple[str, ...] = ()
    concepts: tuple[str, ...] = ()
    descriptions: tuple[str, ...] = ()
    references: tuple[Reference, ...] = ()


@dataclass(frozen=True, slots=True)
class How:
    """``How``: instrument descriptions and references."""

    descriptions: tuple[str, ...] = ()
    references: tuple[Reference, ...] = ()


@dataclass(frozen=True, slots=True)
class Packet:
    """A parsed VOEvent packet.

    ``raw`` holds the bytes exactly as received; ``problems`` lists what lenient parsing
    found wrong (empty for a clean packet).
    """

    ivorn: str
    role: str
    version: str | None
    raw: bytes = field(repr=False)
    author_ivorn: str | None = None
    author_datetime: datetime | None = None
    author: Author | None = None
    description: str | None = None
    what_description: str | None = None
    params: tuple[Param, ...] = ()
    groups: tuple[Group, ...] = ()
    positions: tuple[Position, ...] = ()
    how: How | None = None
    why: Why | None = None
    citations: tuple[Citation, ...] = ()
    references: tuple[Reference, ...] = ()
    problems: tuple[str, ...] = ()
    tables: tuple[Table, ...] = ()
    who_description: str | None = None
    wherewhen_description: str | None = None

    @property
    def stream(self) -> str:
        """IVORN authority and resource path, as voeventdb stores it.

        >>> Packet("ivo://nasa.gsfc.gcn/SWIFT#BAT_1", "observation", "2.0", b"").stream
        'nasa.gsfc.gcn/SWIFT'
        """
        return stream_of(self.ivorn)

    @property
    def local_id(self) -> str | None:
        """The part of the IVORN after ``#``, or None.

        >>> Packet("ivo://a/b#c", "test", "2.0", b"").local_id
        'c'
        """
        _, sep, tail = self.ivorn.partition("#")
        return tail if sep else None

    @property
    def position(self) -> Position | None:
        """The first position, or None.

        >>> Packet("ivo://a/b#c", "test", "2.0", b"").position is None
        True
        """
        return self.positions[0] if self.positions else None

    def param(self, name: str) -> Param | None:
        """The first top-level param called ``name``, or None.

        >>> Packet("ivo://a/b#c", "test", "2.0", b"", params=(Param("x", "1"),)).param("x").value
        '1'
        """
        return next((p for p in self.params if p.name == name), None)

    def group(self, name: str) -> Group | None:
        """The first group called ``name``, or None.

        >>> Packet("ivo://a/b#c", "test", "2.0", b"").group("g") is None
        True
        """
        return next((g for g in self.groups if g.name == name), None)

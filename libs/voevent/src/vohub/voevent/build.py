"""Build new VOEvent 2.0 packets that validate: a fluent builder over lxml elements.

Positions and times may be given as astropy ``SkyCoord``/``Time``/``Angle`` (converted at
this edge) or as plain degrees and aware datetimes.  ``build()`` serialises, validates the
bytes against the XSD and parses them back, so a builder never hands out an invalid packet.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from lxml import etree

from vohub.voevent.ivorn import parse_ivorn, stamp
from vohub.voevent.loader import parse
from vohub.voevent.model import CITE_TYPES, ROLES, Inference, Packet, Param, Reference
from vohub.voevent.schema import NS_V20

_XSI = "http://www.w3.org/2001/XMLSchema-instance"
_SCHEMA_LOCATION = f"{NS_V20} http://www.ivoa.net/xml/VOEvent/VOEvent-v2.0.xsd"
_AUTHOR_TAGS = (
    ("title", "title"),
    ("short_name", "shortName"),
    ("logo_url", "logoURL"),
    ("contact_name", "contactName"),
    ("contact_email", "contactEmail"),
    ("contact_phone", "contactPhone"),
    ("contributor", "contributor"),
)


def make_param(
    name: str,
    value: object = None,
    *,
    unit: str | None = None,
    ucd: str | None = None,
    datatype: str | None = None,
    utype: str | None = None,
    description: str | None = None,
) -> Param:
    """A :class:`Param` whose ``dataType`` follows the Python value (int, float, else string).

    >>> make_param("n", 3).datatype, make_param("x", 1.5e-3).value, make_param("ok", True).value
    ('int', '0.0015', 'true')
    """
    text: str | None
    if value is None:
        text = None
    elif isinstance(value, bool):
        text, datatype = ("true" if value else "false"), datatype or "string"
    elif isinstance(value, int):
        text, datatype = str(value), datatype or "int"
    elif isinstance(value, float):
        text, datatype = repr(value), datatype or "float"
    elif isinstance(value, datetime):
        text, datatype = value.isoformat(), datatype or "string"
    else:
        text = str(value)
    return Param(name, text, unit, ucd, datatype, utype, description)


class PacketBuilder:
    """Assemble a VOEvent 2.0 packet step by step; every method returns the builder.

    Parameters
    ----------
    stream : str
        ``authority/path`` (with or without ``ivo://``); a unique IVORN is stamped
        unless ``ivorn`` is given.
    role : str
        observation, prediction, utility or test.

    Examples
    --------
    >>> b = PacketBuilder("example.org/demo", role="test", ivorn="ivo://example.org/demo#1")
    >>> p = (b.author("ivo://example.org", date=datetime(2020, 1, 1, tzinfo=UTC), short_name="demo")
    ...       .param("snr", 7.5, unit="sigma").group("flags", [make_param("ok", True)])
    ...       .position(10.0, -20.0, error=0.1, time=datetime(2020, 1, 1, 0, 0, 1, tzinfo=UTC))
    ...       .cite("ivo://example.org/demo#0", "followup", "an update").build())
    >>> p.ivorn, p.param("snr").typed_value, p.position.dec, p.citations[0].cite, p.problems
    ('ivo://example.org/demo#1', 7.5, -20.0, 'followup', ())
    """

    def __init__(self, stream: str, *, role: str = "observation", ivorn: str | None = None) -> None:
        if role not in ROLES:
            raise ValueError(f"role {role!r} is not one of {ROLES}")
        self.ivorn = ivorn if ivorn is not None else stamp(stream)
        parse_ivorn(self.ivorn, require_local_id=True)
        self.root = etree.Element(f"{{{NS_V20}}}VOEvent", nsmap={"voe": NS_V20, "xsi": _XSI})
        self.root.set(f"{{{_XSI}}}schemaLocation", _SCHEMA_LOCATION)
        self.root.set("version", "2.0")
        self.root.set("ivorn", self.ivorn)
        self.root.set("role", role)

    def _section(self, tag: str) -> etree._Element:
        found = self.root.find(tag)
        return found if found is not None else etree.SubElement(self.root, tag)

    def author(
        self, ivorn: str | None = None, *, date: datetime | None = None, **contact: str
    ) -> PacketBuilder:
        """Set ``Who``: AuthorIVORN, Date (default now, UTC) and Author contact fields.

        >>> when = datetime(2020, 1, 1, tzinfo=UTC)
        >>> who = PacketBuilder("example.org/demo").author(date=when, title="Demo").root[0]
        >>> who.findtext("Date"), who.findtext("Author/title")
        ('2020-01-01T00:00:00', 'Demo')
        """
        unknown = set(contact) - {k for k, _ in _AUTHOR_TAGS}
        if unknown:
            raise TypeError(f"unknown Author field(s): {', '.join(sorted(unknown))}")
        who = self._section("Who")
        who.clear()
        if ivorn is not None:
            parse_ivorn(ivorn)
            etree.SubElement(who, "AuthorIVORN").text = ivorn
        etree.SubElement(who, "Date").text = _iso(date or datetime.now(UTC))
        if contact:
            author = etree.SubElement(who, "Author")
            for key, tag in _AUTHOR_TAGS:
                if contact.get(key):
                    etree.SubElement(author, tag).text = contact[key]
        return self

    def param(self, name: str | Param, value: object = None, **attrs: Any) -> PacketBuilder:
        """Add a top-level ``What/Param`` (a :class:`Param` or the :func:`make_param` arguments).

        >>> dict(PacketBuilder("example.org/demo").param("snr", 7.5).root.find("What/Param").attrib)
        {'name': 'snr', 'value': '7.5', 'dataType': 'float'}
        """
        param = name if isinstance(name, Param) else make_param(name, value, **attrs)
        _param_element(self._section("What"), param)
        return self

    def group(
        self,
        name: str | None,
        params: Iterable[Param],
        *,
        type: str | None = None,
        description: str | None = None,
    ) -> PacketBuilder:
        """Add a ``What/Group`` of params (the schema requires at least one).

        >>> b = PacketBuilder("example.org/demo").group("flags", [make_param("ok", True)])
        >>> b.root.find("What/Group[@name='flags']/Param").get("value")
        'true'
        """
        group = etree.SubElement(self._section("What"), "Group", _attrs(name=name, type=type))
        if description:
            etree.SubElement(group, "Description").text = description
        for param in params:
            _param_element(group, param)
        if group.find("Param") is None:
            raise ValueError(f"group {name!r} has no params")
        return self

    def description(self, text: str, *, section: str = "What") -> PacketBuilder:
        """Add a Description to ``What`` (default), ``How``, ``Why`` or the root (``""``).

        >>> b = PacketBuilder("example.org/demo").description("A test.", section="How")
        >>> b.root.findtext("How/Description")
        'A test.'
        """
        parent = self._section(section) if section else self.root
        etree.SubElement(parent, "Description").text = text
        return self

    def reference(self, uri: str, *, section: str = "What", **attrs: str) -> PacketBuilder:
        """Add a ``Reference`` (uri, type, meaning, mimetype) to a section or the root.

        >>> b = PacketBuilder("example.org/demo").reference("https://example.org/lc", type="url")
        >>> dict(b.root.find("What/Reference").attrib)
        {'uri': 'https://example.org/lc', 'type': 'url'}
        """
        parent = self._section(section) if section else self.root
        etree.SubElement(parent, "Reference", _attrs(uri=uri, **attrs))
        return self

    def position(
        self,
        ra: Any,
        dec: float | None = None,
        *,
        error: Any = 0.0,
        time: Any = None,
        coord_system: str | None = None,
        observatory: str = "GEOSURFACE",
    ) -> PacketBuilder:
        """Add an ObsDataLocation from a ``SkyCoord`` or RA/Dec degrees, and a UTC time.

        ``error`` is an ``Angle``/``Quantity`` or degrees; ``time`` an astropy ``Time`` or
        an aware datetime.  The system defaults to UTC-ICRS-GEO (UTC-FK5-GEO for an FK5
        ``SkyCoord``).

        >>> b = PacketBuilder("example.org/demo").position(10.0, -20.0, error=0.1)
        >>> [e.text for e in b.root.find(".//Position2D").iter("C1", "C2", "Error2Radius")]
        ['10.0', '-20.0', '0.1']
        """
        ra_deg, dec_deg, frame = _radec(ra, dec)
        system = coord_system or f"UTC-{frame}-GEO"
        odl = etree.SubElement(self._section("WhereWhen"), "ObsDataLocation")
        etree.SubElement(odl, "ObservatoryLocation", id=observatory)
        location = etree.SubElement(odl, "ObservationLocation")
        etree.SubElement(location, "AstroCoordSystem", id=system)
        coords = etree.SubElement(location, "AstroCoords", coord_system_id=system)
        if time is not None:
            instant = etree.SubElement(etree.SubElement(coords, "Time", unit="s"), "TimeInstant")
            etree.SubElement(instant, "ISOTime").text = _utc_text(time)
        pos = etree.SubElement(coords, "Position2D", unit="deg")
        etree.SubElement(pos, "Name1").text = "RA"
        etree.SubElement(pos, "Name2").text = "Dec"
        value2 = etree.SubElement(pos, "Value2")
        etree.SubElement(value2, "C1").text = repr(ra_deg)
        etree.SubElement(value2, "C2").text = repr(dec_deg)
        etree.SubElement(pos, "Error2Radius").text = repr(_degrees(error))
        return self

    def how(
        self, descriptions: Iterable[str] = (), references: Iterable[Reference] = ()
    ) -> PacketBuilder:
        """Add ``How`` descriptions and references.

        >>> b = PacketBuilder("example.org/demo").how(["Found by a robot."])
        >>> b.root.findtext("How/Description")
        'Found by a robot.'
        """
        how = self._section("How")
        for text in descriptions:
            etree.SubElement(how, "Description").text = text
        for ref in references:
            etree.SubElement(
                how, "Reference", _attrs(uri=ref.uri, type=ref.type, meaning=ref.meaning)
            )
        return self

    def why(
        self,
        *,
        importance: float | None = None,
        expires: datetime | None = None,
        inferences: Iterable[Inference] = (),
        concepts: Iterable[str] = (),
        names: Iterable[str] = (),
    ) -> PacketBuilder:
        """Set ``Why``: importance, expiry, inferences, bare Concept and Name elements.

        >>> why = PacketBuilder("example.org/demo").why(importance=0.5, concepts=["GRB"]).root[0]
        >>> why.get("importance"), why.findtext("Concept")
        ('0.5', 'GRB')
        """
        why = self._section("Why")
        for key, val in (("importance", importance), ("expires", expires)):
            if val is not None:
                why.set(key, _iso(val) if isinstance(val, datetime) else repr(float(val)))
        for tag, texts in (("Name", names), ("Concept", concepts)):
            for text in texts:
                etree.SubElement(why, tag).text = text
        for inf in inferences:
            _inference_element(why, inf)
        return self

    def cite(
        self, ivorn: str, cite: str = "followup", description: str | None = None
    ) -> PacketBuilder:
        """Cite an earlier event (followup, supersedes or retraction).

        >>> b = PacketBuilder("example.org/demo").cite("ivo://example.org/demo#0", "retraction")
        >>> b.root.find("Citations/EventIVORN").get("cite")
        'retraction'
        """
        if cite not in CITE_TYPES:
            raise ValueError(f"cite type {cite!r} is not one of {CITE_TYPES}")
        parse_ivorn(ivorn)
        citations = self._section("Citations")
        old = citations.find("Description")
        etree.SubElement(citations, "EventIVORN", cite=cite).text = ivorn
        if description is not None or old is not None:  # Description must come last
            if old is not None:
                citations.remove(old)
            etree.SubElement(citations, "Description").text = description or old.text  # type: ignore[union-attr]
        return self

    def to_bytes(self, *, pretty: bool = False) -> bytes:
        """The packet as UTF-8 XML bytes with a declaration (not validated).

        >>> PacketBuilder("example.org/demo", ivorn="ivo://example.org/demo#1").to_bytes()[:38]
        b"<?xml version='1.0' encoding='UTF-8'?>"
        """
        return etree.tostring(
            self.root, xml_declaration=True, encoding="UTF-8", pretty_print=pretty
        )

    def build(self, *, pretty: bool = False) -> Packet:
        """Serialise, validate against the XSD and parse back into a :class:`Packet`.

        >>> packet = PacketBuilder("example.org/demo", role="test").param("n", 1).build()
        >>> packet.role, packet.param("n").typed_value, packet.problems
        ('test', 1, ())
        """
        return parse(self.to_bytes(pretty=pretty), strict=True, source=self.ivorn)


def _attrs(**values: str | None) -> dict[str, str]:
    return {k: v for k, v in values.items() if v is not None}


def _param_element(parent: etree._Element, param: Param) -> None:
    el = etree.SubElement(
        parent,
        "Param",
        _attrs(
            name=param.name,
            value=param.value,
            unit=param.unit,
            ucd=param.ucd,
            dataType=param.datatype,
            utype=param.utype,
        ),
    )
    if param.description:
        etree.SubElement(el, "Description").text = param.description


def _inference_element(parent: etree._Element, inf: Inference) -> None:
    prob = None if inf.probability is None else repr(float(inf.probability))
    el = etree.SubElement(parent, "Inference", _attrs(probability=prob, relation=inf.relation))
    for tag, texts in (
        ("Name", inf.names),
        ("Concept", inf.concepts),
        ("Description", inf.descriptions),
    ):
        for text in texts:
            etree.SubElement(el, tag).text = text


def _iso(moment: datetime) -> str:
    """ISO text of an aware datetime in UTC (no offset suffix, as GCN writes it)."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: give a timezone")
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat()


def _utc_text(time: Any) -> str:
    if isinstance(time, datetime):
        return _iso(time)
    return str(time.utc.isot)  # astropy Time


def _degrees(value: Any) -> float:
    if hasattr(value, "to_value"):
        return float(value.to_value("deg"))
    return float(value)


def _radec(ra: Any, dec: float | None) -> tuple[float, float, str]:
    """RA/Dec degrees and "FK5"/"ICRS" from a SkyCoord or two numbers."""
    if dec is not None:
        return float(ra), float(dec), "ICRS"
    if str(ra.frame.name) == "fk5":
        from astropy.coordinates import FK5

        j2000 = ra.frame.equinox.jyear == 2000.0
        coord, frame = (ra if j2000 else ra.transform_to(FK5(equinox="J2000"))), "FK5"
    else:
        coord, frame = ra.icrs, "ICRS"
    return float(coord.spherical.lon.deg), float(coord.spherical.lat.deg), frame

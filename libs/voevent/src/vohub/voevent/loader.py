"""The entry points: parse a packet leniently or strictly, validate it, test validity.

Lenient parsing (the default) refuses only what is not a VOEvent at all (hostile or
malformed XML, a foreign root) and describes anything else that is off in
``Packet.problems``.  Strict parsing also validates against the XSD of the packet's
version and checks the IVORN syntax, raising on the first fault.
"""

from __future__ import annotations

import os
from dataclasses import replace

from vohub.voevent.errors import SchemaViolation, UnsupportedVersion, VOEventError
from vohub.voevent.extract import extract
from vohub.voevent.ivorn import parse_ivorn
from vohub.voevent.model import Packet
from vohub.voevent.schema import validate_tree
from vohub.voevent.xmlsafe import MAX_BYTES, parse_xml, read_source

Source = bytes | str | os.PathLike[str]


def parse(
    data: Source,
    *,
    strict: bool = False,
    source: str | None = None,
    check_schema: bool = False,
    max_bytes: int = MAX_BYTES,
) -> Packet:
    """Parse a VOEvent from bytes, XML text or a file path into a :class:`Packet`.

    Parameters
    ----------
    data : bytes, str or os.PathLike
        The packet bytes, its XML text (a ``str`` is never a file name), or a path.
    strict : bool
        Also validate against the XSD of the packet's version and check the IVORN;
        raise on the first fault.
    source : str, optional
        Name for error messages (default: the file name; for bytes and text, ``<bytes>``
        until the IVORN is known, then the IVORN).
    check_schema : bool
        In lenient mode, run the XSD too and record its verdict in ``problems``.
    max_bytes : int
        Size cap, checked before parsing.

    Raises
    ------
    PacketTooLarge, ForbiddenXML, MalformedXML, NotAVOEvent
        In both modes.
    SchemaViolation, UnsupportedVersion, InvalidIvorn
        In strict mode only.

    Examples
    --------
    >>> xml = ('<voe:VOEvent xmlns:voe="http://www.ivoa.net/xml/VOEvent/v2.0" version="2.0"'
    ...        ' ivorn="ivo://example.org/demo#1" role="bogus"/>')
    >>> parse(xml).problems
    ("role 'bogus' is not one of observation, prediction, utility, test",)
    >>> parse(xml, strict=True)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    vohub.voevent.errors.SchemaViolation: ivo://example.org/demo#1: schema violation: ...'role'...
    """
    raw, name = read_source(data, source, max_bytes)
    root = parse_xml(raw, name)
    packet = extract(root, raw, name)
    if source is None and name in ("<bytes>", "<str>"):
        name = packet.ivorn  # past this point the packet's own IVORN names it best
    if strict:
        validate_tree(root, name)
        parse_ivorn(packet.ivorn, source=name)
    elif check_schema:
        try:
            validate_tree(root, name)
        except (SchemaViolation, UnsupportedVersion) as exc:
            return _with_problem(packet, exc.nak_reason)
    return packet


def _with_problem(packet: Packet, problem: str) -> Packet:
    """A copy of ``packet`` with one more problem."""
    return replace(packet, problems=(*packet.problems, problem))


def validate(data: Packet | Source, *, source: str | None = None) -> None:
    """Raise unless ``data`` (a packet, bytes, text or path) is a schema-valid VOEvent.

    A :class:`Packet` is validated from its ``raw`` bytes.

    Raises
    ------
    VOEventError
        The subclass that names the fault (see :func:`parse`).

    Examples
    --------
    >>> validate(b"<VOEvent/>", source="in.xml")
    Traceback (most recent call last):
    ...
    vohub.voevent.errors.NotAVOEvent: in.xml: not a VOEvent: root <VOEvent> has no ivorn attribute
    """
    if isinstance(data, Packet):
        parse(data.raw, strict=True, source=source or data.ivorn)
    else:
        parse(data, strict=True, source=source)


def is_valid(data: Packet | Source) -> bool:
    """True when :func:`validate` passes.

    >>> is_valid(b"<nonsense")
    False
    """
    try:
        validate(data)
    except VOEventError:
        return False
    return True

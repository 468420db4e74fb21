"""Read a parsed VOEvent element tree into the immutable :class:`~vohub.voevent.model.Packet`.

This is the hot path of every service.  It checks the root here and has compiled readers
take the root's children straight from libxml2's tree (an lxml proxy per element would
cost more than the parse): :mod:`vohub.voevent._walk` reads the sections (``What``
through :mod:`vohub.voevent._what`) and :mod:`vohub.voevent._wherewhen` the positions.
It never raises for content: whatever is off is described in ``Packet.problems`` and the
rest is still extracted.  Tags are compared by local name, so default-namespace roots and
VOEvent 1.1's STC-namespaced ``ObsDataLocation`` read the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lxml import etree

from vohub.voevent._walk import build_packet, read_body, read_root
from vohub.voevent._wherewhen import read_positions
from vohub.voevent.errors import NotAVOEvent
from vohub.voevent.model import ROLES, Packet
from vohub.voevent.schema import NAMESPACES

if TYPE_CHECKING:
    from vohub.voevent._walk import Root

Element = etree._Element


def extract(root: Element, raw: bytes, source: str) -> Packet:
    """Build a :class:`Packet` from a VOEvent root element, recording problems as it goes.

    Raises
    ------
    NotAVOEvent
        The root is not a ``VOEvent`` element in a VOEvent namespace (or none), or it
        has no ``ivorn``.

    Examples
    --------
    >>> xml = b'<v:VOEvent xmlns:v="http://www.ivoa.net/xml/VOEvent/v2.0" ivorn="ivo://a.b/c#1"'
    >>> xml += b' role="test" version="2.0"><Who><Date>2020-01-01T00:00:00</Date></Who></v:VOEvent>'
    >>> p = extract(etree.fromstring(xml), xml, "<bytes>")
    >>> p.ivorn, p.role, p.author_datetime.isoformat(), p.problems
    ('ivo://a.b/c#1', 'test', '2020-01-01T00:00:00+00:00', ())
    """
    problems: list[str] = []
    head = read_root(root)
    ivorn = _check_root(head, source, problems)
    fields, wherewhen, timescale = read_body(root, problems)
    if wherewhen is not None:
        fields["positions"] = read_positions(wherewhen, timescale, problems)
    _, _, version, _, role = head
    role = role or "observation"
    if role not in ROLES:
        problems.append(f"role {role!r} is not one of {', '.join(ROLES)}")
    fields.update(ivorn=ivorn, role=role, version=version, raw=raw, problems=tuple(problems))
    return build_packet(fields)


def _check_root(head: Root, source: str, problems: list[str]) -> str:
    """Refuse a root that is no VOEvent; note a missing namespace or version; return the IVORN."""
    name, namespace, version, ivorn, _ = head
    if name != "VOEvent":
        raise NotAVOEvent(source, f"root element is <{name}>, not <VOEvent>")
    if namespace is None:
        problems.append("root <VOEvent> has no namespace")
    elif namespace not in NAMESPACES:
        raise NotAVOEvent(source, f"root namespace {namespace!r} is not a VOEvent one")
    elif version != NAMESPACES[namespace]:
        problems.append(
            f"version {version!r} does not match the namespace's {NAMESPACES[namespace]}"
        )
    if version is None and namespace is None:
        problems.append("root <VOEvent> has no version attribute")
    if not ivorn or not ivorn.strip():
        raise NotAVOEvent(source, "root <VOEvent> has no ivorn attribute")
    return ivorn.strip()

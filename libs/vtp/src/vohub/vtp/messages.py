"""VTP messages: typed Transport messages and incoming VOEvents, built to and parsed from bytes.

Output follows Comet 3.1.0 exactly: a ``trn:Transport`` root in :data:`TRANSPORT_NS` with
``version="1.0"``, children Origin, Response, TimeStamp, Meta in schema order, UTC timestamps in
whole seconds ending in ``Z``, pretty-printed with an XML declaration. Input is tolerant, as VTP
peers disagree (pygcn uses another namespace and local-time stamps): dispatch is on the root's
*local* name (``Transport`` or ``VOEvent``) and its ``role``; any namespace or none is accepted,
Meta may come anywhere, and Transport messages are not schema-validated.

In ``ack`` and ``nak``, ``Origin`` is the IVORN of the event being acknowledged and ``Response``
the IVOID of the side acknowledging. In replies to ``iamalive`` and ``authenticate``, ``Origin``
is copied from the broker's message and ``Response`` is the replier's IVOID.

Parsing uses a hardened lxml parser (no entity expansion, no network, no DTD loading) and rejects
any document with a DOCTYPE, so entity bombs are refused before any expansion.
"""

from __future__ import annotations

import functools
import threading
import time
from dataclasses import dataclass, field
from typing import Final

from lxml import etree

from vohub.vtp import canonical
from vohub.vtp.canonical import SCHEMA_LOCATION, TRANSPORT_NS
from vohub.vtp.errors import MalformedMessage, RemoteProtocolError, UnknownMessage

#: Name of the Meta/Param that carries one XPath filter (Comet's new style).
FILTER_PARAM: Final = "xpath-filter"
#: Name of the Meta/Param by which an author asks for, and a vohub broker grants, several
#: events on one receive-port connection (a vohub extension; see :mod:`vohub.vtp.receiver`).
PIPELINING_PARAM: Final = "vohub-pipelining"

_XSI: Final = canonical.XSI


@dataclass(frozen=True, slots=True)
class Ack:
    """``ack``: the event ``ivorn`` was accepted by the side whose IVOID is ``response``."""

    ivorn: str
    response: str | None = None
    timestamp: str | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Nak:
    """``nak``: the event ``ivorn`` was refused; ``reason`` travels in ``Meta/Result``."""

    ivorn: str
    response: str | None = None
    reason: str | None = None
    timestamp: str | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class IAmAlive:
    """``iamalive``: a broker's ping (``response`` None) or a reply (``response`` set)."""

    origin: str
    response: str | None = None
    timestamp: str | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Authenticate:
    """``authenticate``: a broker's greeting, or a subscriber's reply carrying XPath ``filters``.

    A reply (``response`` set) always has a ``Meta`` element, empty when there are no filters,
    as Comet sends it; a greeting has one only if it carries filters. ``pipelining`` is vohub's
    opt-in for several events per author connection (``Meta/Param`` :data:`PIPELINING_PARAM`).
    """

    origin: str
    response: str | None = None
    filters: tuple[str, ...] = ()
    timestamp: str | None = field(default=None, compare=False)
    pipelining: bool = False


@dataclass(frozen=True, slots=True)
class Event:
    """An incoming VOEvent: the exact bytes received, its IVORN and role, and its parsed root.

    ``raw`` is what gets relayed, unchanged, because downstream brokers de-duplicate on the bytes.
    An event read by its head only (:func:`vohub.vtp.receiver.peek_event`) has no ``tree`` yet;
    :attr:`element` parses it on first use. ``role_given`` is False when the packet has no role
    attribute and ``role`` is the schema's default: Comet's subscriber never acks such a packet.
    ``root_name`` is the root's local name, which only ``decode(any_root=True)`` lets differ;
    ``namespace`` its namespace ("" for none) as the reader found it, None if it did not.
    """

    raw: bytes
    ivorn: str
    role: str
    tree: etree._Element | None = field(default=None, compare=False, repr=False)
    role_given: bool = field(default=True, compare=False, repr=False)
    root_name: str = field(default="VOEvent", compare=False, repr=False)
    namespace: str | None = field(default=None, compare=False, repr=False)

    @property
    def element(self) -> etree._Element:
        """The parsed root (parsed on first use if read by its head; MalformedMessage if bad).

        >>> Event(b"<VOEvent><Who/></VOEvent>", "ivo://a/b#1", "test").element[0].tag
        'Who'
        """
        tree = self.tree
        if tree is None:
            tree = parse_xml(self.raw)
            object.__setattr__(self, "tree", tree)
        return tree


TransportMessage = Ack | Nak | IAmAlive | Authenticate
Message = TransportMessage | Event


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A frame that could not be understood; state machines report it and go on, as Comet does."""

    payload: bytes
    error: RemoteProtocolError


def timestamp(now: float) -> str:
    """Format a POSIX time (``now``, seconds since the epoch) as a VTP TimeStamp: UTC, whole
    seconds, ending in ``Z``.

    Examples
    --------
    >>> timestamp(1_795_592_693.9)
    '2026-11-25T07:44:53Z'
    """
    return _stamp_of_second(int(now // 1))


@functools.lru_cache(maxsize=4)  # one formatting per second, however many messages
def _stamp_of_second(second: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second))


def encode(message: Message, now: float) -> bytes:
    """Serialise a message to its payload bytes, ready for :func:`~vohub.vtp.framing.encode_frame`.

    An :class:`Event` encodes to its original ``raw`` bytes. A Transport message is built the way
    Comet builds it; ``now`` (seconds since the epoch) becomes its TimeStamp.

    Examples
    --------
    >>> print(encode(IAmAlive("ivo://vohub.test/brokerA"), 1_795_592_693).decode())
    ... # doctest: +ELLIPSIS
    <?xml version='1.0' encoding='UTF-8'?>
    <trn:Transport xmlns:trn="http://www.telescope-networks.org/xml/Transport/v1.1" ...="iamalive">
      <Origin>ivo://vohub.test/brokerA</Origin>
      <TimeStamp>2026-11-25T07:44:53Z</TimeStamp>
    </trn:Transport>
    <BLANKLINE>
    """
    if isinstance(message, Event):
        return message.raw
    if isinstance(message, Ack | Nak):
        origin, role = message.ivorn, "ack" if isinstance(message, Ack) else "nak"
    else:
        origin, role = message.origin, _ROLE_OF[type(message)]
    result = message.reason if isinstance(message, Nak) else None
    if not isinstance(message, Authenticate) or not _has_meta(message):
        fast = canonical.render(role, origin, message.response, timestamp(now), result)
        if fast is not None:
            return fast
    root = _transport(role, origin, message.response, now)
    if result is not None:
        etree.SubElement(etree.SubElement(root, "Meta"), "Result").text = result
    elif isinstance(message, Authenticate) and _has_meta(message):
        meta = etree.SubElement(root, "Meta")
        for expression in message.filters:
            etree.SubElement(meta, "Param", name=FILTER_PARAM, value=expression)
        if message.pipelining:
            etree.SubElement(meta, "Param", name=PIPELINING_PARAM, value="1")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _has_meta(message: Authenticate) -> bool:
    return bool(message.filters) or message.pipelining or message.response is not None


def decode(payload: bytes, *, any_root: bool = False) -> Message:
    """Parse one frame's payload into a message.

    Parameters
    ----------
    payload
        The bytes of one frame.
    any_root
        Read any other root with ``role`` and ``ivorn`` attributes as an :class:`Event` too
        (as Comet's receive port does), for its receiver to refuse with a reason (a nak).

    Returns
    -------
    Message
        A Transport message (:class:`Ack`, :class:`Nak`, :class:`IAmAlive`,
        :class:`Authenticate`) or an :class:`Event`.

    Raises
    ------
    MalformedMessage
        Not well-formed XML, a DOCTYPE (entity bombs), or a VOEvent without an IVORN.
    UnknownMessage
        A root that is neither ``Transport`` nor ``VOEvent``, or a Transport role unknown.

    Examples
    --------
    >>> decode(b'<Transport role="ack"><Origin>ivo://a.b/c#1</Origin></Transport>')
    Ack(ivorn='ivo://a.b/c#1', response=None, timestamp=None)
    >>> decode(b'<voe:VOEvent xmlns:voe="x" role="test" ivorn="ivo://a.b/c#2"/>').ivorn
    'ivo://a.b/c#2'
    >>> decode(b"<html/>")
    Traceback (most recent call last):
    ...
    vohub.vtp.errors.UnknownMessage: root element 'html' is neither Transport nor VOEvent
    >>> decode(b'<html role="test" ivorn="ivo://a.b/c#3"/>', any_root=True).root_name
    'html'
    """
    fast = canonical.read(payload)
    if fast is not None:
        return _from_canonical(*fast)
    root = parse_xml(payload)
    qname = etree.QName(root)
    name, role = qname.localname, root.get("role")
    head = role is not None and root.get("ivorn") is not None
    if name == "VOEvent" or (any_root and head and name != "Transport"):
        return _event(payload, root, role, qname)
    if name != "Transport":
        raise UnknownMessage(f"root element {name!r} is neither Transport nor VOEvent")
    texts = _child_texts(root)
    origin = texts.get("Origin", "")
    response = texts.get("Response")
    stamp = texts.get("TimeStamp")
    if role == "ack":
        return Ack(origin, response, stamp)
    if role == "nak":
        return Nak(origin, response, _meta_result(root), stamp)
    if role == "iamalive":
        return IAmAlive(origin, response, stamp)
    if role == "authenticate":
        pipelining = "1" in _meta_params(root, PIPELINING_PARAM)
        return Authenticate(origin, response, _meta_filters(root), stamp, pipelining)
    raise UnknownMessage(f"Transport message with unknown role {role!r}")


def _from_canonical(
    role: str, origin: str, response: str | None, stamp: str, result: str | None
) -> TransportMessage:
    if role == "ack":
        return Ack(origin, response, stamp)
    if role == "nak":
        return Nak(origin, response, result, stamp)
    if role == "iamalive":
        return IAmAlive(origin, response, stamp)
    return Authenticate(origin, response, (), stamp)


def parse_event(payload: bytes, *, any_root: bool = False) -> Event:
    """Parse bytes that must be a VOEvent (for events that arrive by other means than VTP);
    ``any_root`` as for :func:`decode`.

    Raises
    ------
    MalformedMessage
        As for :func:`decode`.
    UnknownMessage
        If the payload is a Transport message (its role is not checked: see
        :func:`~vohub.vtp.roles.check_role`).

    Examples
    --------
    >>> parse_event(b'<VOEvent role="observation" ivorn="ivo://a.b/c#3"/>').role
    'observation'
    """
    message = decode(payload, any_root=any_root)
    if not isinstance(message, Event):
        raise UnknownMessage(f"expected a VOEvent, got a Transport {_ROLE_OF[type(message)]!r}")
    return message


def parse_xml(payload: bytes) -> etree._Element:
    """Parse untrusted XML safely: no entities, no network, no DTD; any DOCTYPE is refused.

    Raises
    ------
    MalformedMessage
        On any parse failure or a DOCTYPE declaration.

    Examples
    --------
    >>> parse_xml(b"<a><b/></a>").tag
    'a'
    >>> parse_xml(b'<!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>')
    Traceback (most recent call last):
    ...
    vohub.vtp.errors.MalformedMessage: XML with a DOCTYPE is refused (no entities or DTDs)
    """
    parser = getattr(_parsers, "parser", None)
    if parser is None:  # lxml parsers must not be shared between threads; building one is slow
        parser = _parsers.parser = etree.XMLParser(
            resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
        )
    try:
        root = etree.fromstring(payload, parser=parser)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise MalformedMessage(f"not well-formed XML: {exc}") from exc
    tree = root.getroottree()
    if tree.docinfo.internalDTD is not None:  # set by any DOCTYPE, internal subset or not
        raise MalformedMessage("XML with a DOCTYPE is refused (no entities or DTDs)")
    return root


_parsers = threading.local()

_ROLE_OF: Final[dict[type, str]] = {
    Ack: "ack",
    Nak: "nak",
    IAmAlive: "iamalive",
    Authenticate: "authenticate",
}


def _transport(role: str, origin: str, response: str | None, now: float) -> etree._Element:
    root = etree.Element(f"{{{TRANSPORT_NS}}}Transport", nsmap={"trn": TRANSPORT_NS, "xsi": _XSI})
    root.set("version", "1.0")
    root.set(f"{{{_XSI}}}schemaLocation", SCHEMA_LOCATION)
    root.set("role", role)
    etree.SubElement(root, "Origin").text = origin
    if response is not None:
        etree.SubElement(root, "Response").text = response
    etree.SubElement(root, "TimeStamp").text = timestamp(now)
    return root


def _event(payload: bytes, root: etree._Element, role: str | None, qname: etree.QName) -> Event:
    given = role is not None
    if role is None:
        role = "observation"  # the schema's default, as every VOEvent reader takes it
    ivorn = root.get("ivorn")
    if ivorn is None:  # an empty one is still an event, for its receiver to refuse (a nak)
        raise MalformedMessage(f"VOEvent (role {role!r}) has no ivorn attribute")
    name, namespace = qname.localname, qname.namespace or ""
    return Event(payload, ivorn, role, root, role_given=given, root_name=name, namespace=namespace)


def _local_children(parent: etree._Element, name: str) -> list[etree._Element]:
    return [c for c in parent if isinstance(c.tag, str) and etree.QName(c).localname == name]


def _child_texts(root: etree._Element) -> dict[str, str]:
    texts: dict[str, str] = {}
    for child in root:
        if isinstance(child.tag, str):
            texts.setdefault(etree.QName(child).localname, (child.text or "").strip())
    return texts


def _meta_result(root: etree._Element) -> str | None:
    for meta in _local_children(root, "Meta"):
        for result in _local_children(meta, "Result"):
            return result.text or ""
    return None


def _meta_params(root: etree._Element, name: str) -> list[str]:
    return [
        p.get("value", "")
        for meta in _local_children(root, "Meta")
        for p in _local_children(meta, "Param")
        if p.get("name") == name
    ]


def _meta_filters(root: etree._Element) -> tuple[str, ...]:
    # Comet reads new-style Param filters first, then old-style <filter type="xpath"> text.
    metas = _local_children(root, "Meta")
    params = _meta_params(root, FILTER_PARAM)
    olds = [
        f.text or ""
        for meta in metas
        for f in _local_children(meta, "filter")
        if f.get("type") == "xpath"
    ]
    return (*params, *olds)

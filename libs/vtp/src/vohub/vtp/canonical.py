"""Comet's canonical Transport layout, written and read with templates instead of an XML tree.

Every broker-to-author reply and every heartbeat has the same shape (§4.1 of the VTP notes:
XML declaration, ``trn:Transport`` with Comet's namespace attributes, then Origin, Response,
TimeStamp and, for a ``nak``, ``Meta/Result``, pretty-printed with two-space indents). Building
or parsing that with lxml costs tens of microseconds per message; these templates produce the
*same bytes* lxml would (tested byte for byte), and read the same values, in about one. Anything
off the template (another namespace, a character that needs more than the three XML escapes,
an unusual Meta) is left to the lxml path in :mod:`vohub.vtp.messages`.

:func:`ack_origin` is looser on purpose: a broker counts its subscribers' acks by ``role``
alone, as Comet does, so it only needs to recognise the root start tag of an ``ack``.
"""

from __future__ import annotations

import functools
import re
from typing import Final

#: Namespace of the Transport messages we emit (Comet's).
TRANSPORT_NS: Final = "http://www.telescope-networks.org/xml/Transport/v1.1"
#: The ``xsi:schemaLocation`` Comet writes (it names a different URI than the namespace).
SCHEMA_LOCATION: Final = (
    "http://telescope-networks.org/schema/Transport/v1.1 "
    "http://www.telescope-networks.org/schema/Transport-v1.1.xsd"
)
XSI: Final = "http://www.w3.org/2001/XMLSchema-instance"

_OPEN: Final = (
    "<?xml version='1.0' encoding='UTF-8'?>\n"
    f'<trn:Transport xmlns:trn="{TRANSPORT_NS}" xmlns:xsi="{XSI}" version="1.0" '
    f'xsi:schemaLocation="{SCHEMA_LOCATION}" role="'
)
_CLOSE: Final = "</trn:Transport>\n"
#: Characters lxml would escape numerically (``\r``) or refuse (other controls, surrogates).
_AWKWARD = re.compile("[\x00-\x08\x0b-\x1f\ud800-\udfff\ufffe\uffff]")
#: Text that reads the same with or without an XML parser: no markup or controls, and only
#: the five predefined entities (undone by :func:`_unescape`).
_TEXT = rb"(?:[^<>&\x00-\x08\x0b-\x1f]|&(?:amp|lt|gt|quot|apos);)*"
_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&apos;", "'"), ("&amp;", "&"))
_READ = re.compile(
    re.escape(_OPEN.encode())
    + rb'(ack|nak|iamalive|authenticate)">\n'
    + rb"  <Origin>(" + _TEXT + rb")</Origin>\n"
    + rb"(?:  <Response>(" + _TEXT + rb")</Response>\n)?"
    + rb"  <TimeStamp>(" + _TEXT + rb")</TimeStamp>\n"
    + rb"(?:  <Meta>\n    <Result>(" + _TEXT + rb")</Result>\n  </Meta>\n)?"
    + re.escape(_CLOSE.encode()) + rb"?\Z"
)  # fmt: skip
_ACK_HEAD = re.compile(rb"""(?:<\?xml[^>]*>\s*)?<(?:[\w.-]+:)?Transport\b[^>]*\brole=["']ack["']""")
_ORIGIN = re.compile(rb"<(?:[\w.-]+:)?Origin>([^<]*)</(?:[\w.-]+:)?Origin>")
_EVENT_HEAD = re.compile(rb"\s*(?:<\?xml[^>]*\?>\s*)?<(?:([\w.-]+):)?VOEvent\s([^>]*)>")
_ATTRIBUTE = re.compile(rb"""([\w.:-]+)\s*=\s*(?:"([^"<&]*)"|'([^'<&]*)')""")
#: A whole attribute list of such attributes (a '>' in a value ends the head's match early).
_ATTRIBUTES = re.compile(rb"""(?:\s*[\w.:-]+\s*=\s*(?:"[^"<&]*"|'[^'<&]*'))*\s*/?""")


def _escape(text: str) -> str:
    if "&" in text or "<" in text or ">" in text:
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text


def _unescape(text: str) -> str:
    if "&" in text:
        for entity, char in _ENTITIES:
            text = text.replace(entity, char)
    return text


def render(
    role: str, origin: str, response: str | None, stamp: str, result: str | None = None
) -> bytes | None:
    """A Transport message in Comet's layout, byte for byte what lxml writes; None if unusual.

    Parameters
    ----------
    role
        ``ack``, ``nak``, ``iamalive`` or ``authenticate`` (the last without a Meta).
    origin, response
        The Origin and (optional) Response texts.
    stamp
        The TimeStamp text.
    result
        The ``Meta/Result`` text of a ``nak`` (None: no Meta).

    Returns
    -------
    bytes or None
        The payload, or None when a text holds a character lxml would escape numerically or
        refuse; the caller then builds the message with lxml.

    Examples
    --------
    >>> print(render("ack", "ivo://a.b/c#1", "ivo://hub/b", "2026-11-25T07:45:02Z").decode())
    ... # doctest: +ELLIPSIS
    <?xml version='1.0' encoding='UTF-8'?>
    <trn:Transport xmlns:trn="http://www.telescope-networks.org/xml/Transport/v1.1" ...="ack">
      <Origin>ivo://a.b/c#1</Origin>
      <Response>ivo://hub/b</Response>
      <TimeStamp>2026-11-25T07:45:02Z</TimeStamp>
    </trn:Transport>
    <BLANKLINE>
    >>> render("ack", "bad\\rtext", None, "x") is None
    True
    """
    if _AWKWARD.search(f"{origin}{response or ''}{stamp}{result or ''}"):
        return None
    meta = (
        "" if result is None else f"  <Meta>\n    <Result>{_escape(result)}</Result>\n  </Meta>\n"
    )
    head = f'{_OPEN}{role}">\n  <Origin>{_escape(origin)}'
    return f"{head}{_middle(response, stamp)}{meta}{_CLOSE}".encode()


@functools.lru_cache(maxsize=16)  # the same broker IVOID, the same second: built once
def _middle(response: str | None, stamp: str) -> str:
    said = "" if response is None else f"  <Response>{_escape(response)}</Response>\n"
    return f"</Origin>\n{said}  <TimeStamp>{_escape(stamp)}</TimeStamp>\n"


def read(payload: bytes) -> tuple[str, str, str | None, str, str | None] | None:
    """``(role, origin, response, timestamp, result)`` of a message in Comet's layout, else None.

    Only payloads that an XML parser would read the same way match (no markup in the texts,
    no entities but the five predefined ones, valid UTF-8); the texts are stripped as
    :func:`vohub.vtp.messages.decode` strips them (``result`` is not). A ``Meta/Result``
    outside a ``nak`` does not match.

    Examples
    --------
    >>> ack = render("ack", "ivo://a.b/c#1", "ivo://hub/b", "2026-11-25T07:45:02Z")
    >>> read(ack)
    ('ack', 'ivo://a.b/c#1', 'ivo://hub/b', '2026-11-25T07:45:02Z', None)
    >>> read(b"<Transport role='ack'/>") is None
    True
    """
    match = _READ.match(payload)
    if match is None:
        return None
    try:
        role, origin, response, stamp, result = (
            None if group is None else _unescape(group.decode()) for group in match.groups()
        )
    except UnicodeDecodeError:
        return None
    if role is None or origin is None or stamp is None or (result is not None and role != "nak"):
        return None
    response = None if response is None else response.strip()
    return role, origin.strip(), response, stamp.strip(), result


def is_ack(payload: bytes) -> bool:
    """Whether a frame's root start tag is a Transport ``ack`` (see :func:`ack_origin`).

    Examples
    --------
    >>> is_ack(b'<trn:Transport role="ack"/>'), is_ack(b'<Transport role="nak"/>')
    (True, False)
    """
    return _ACK_HEAD.match(payload, 0, 2048) is not None


def ack_head(payload: bytes) -> bytes | None:
    """The bytes of a Transport ``ack`` up to its role (all :func:`is_ack` looks at); else None.

    Any payload that starts with these bytes is an ack too, so a reader of many acks from one
    peer (who writes them all alike) can compare prefixes instead of matching each.

    Examples
    --------
    >>> ack_head(b'<trn:Transport xmlns:trn="x" role="ack"><Origin>a</Origin></trn:Transport>')
    b'<trn:Transport xmlns:trn="x" role="ack"'
    >>> ack_head(b'<Transport role="nak"/>') is None
    True
    """
    match = _ACK_HEAD.match(payload, 0, 2048)
    return None if match is None else payload[: match.end()]


def ack_origin(payload: bytes) -> str | None:
    """The Origin of a frame whose root start tag is a Transport ``ack``; None for anything else.

    Comet counts a subscriber's acks by role alone and matches nothing in them, so a broker
    does not need to parse them: this looks at the first 2 KiB for the root start tag (any
    namespace prefix, any attribute order, an XML declaration allowed, but nothing else
    before it: no DOCTYPE). The payload is not checked to be well-formed, and nothing in it
    is expanded.

    Examples
    --------
    >>> ack_origin(b"<?xml version='1.0'?>\\n<t:Transport xmlns:t='x' role='ack'>"
    ...            b"<Origin>ivo://a.b/c#1</Origin></t:Transport>")
    'ivo://a.b/c#1'
    >>> ack_origin(b'<Transport role="iamalive"><Origin>x</Origin></Transport>') is None
    True
    """
    if _ACK_HEAD.match(payload, 0, 2048) is None:
        return None
    start = payload.find(b"<Origin>")  # the usual spelling; a prefixed one takes the pattern
    end = payload.find(b"</Origin>", start) if start >= 0 else -1
    if end >= 0 and payload.find(b"<", start + 8, end) < 0:
        text = payload[start + 8 : end]
    else:
        origin = _ORIGIN.search(payload)
        text = origin.group(1) if origin else b""
    return text.decode(errors="replace").strip()


def event_head(packet: bytes) -> tuple[str, str] | None:
    """``(ivorn, role)`` from a VOEvent's root start tag, when it is plainly written; else None.

    For an author about to send many packets: it reads the root start tag only (an XML
    declaration before it allowed; attribute values without entities or ``>``), so it does
    not prove the rest well-formed (the broker does that). None means "look closer": the
    caller then parses the packet in full, which also names whatever is wrong.

    Examples
    --------
    >>> event_head(b'<?xml version="1.0"?>\\n<voe:VOEvent xmlns:voe="x" role="test" '
    ...            b"ivorn='ivo://a.b/c#1'><Who/></voe:VOEvent>")
    ('ivo://a.b/c#1', 'test')
    >>> event_head(b'<!DOCTYPE x><VOEvent role="test" ivorn="ivo://a.b/c#1"/>') is None
    True
    >>> event_head(b'<VOEvent x="role=\\'test\\' ivorn=\\'ivo://a.b/c#2\\' >" role="test" '
    ...            b'ivorn="ivo://a.b/c#1"/>') is None
    True
    """
    root = event_root(packet)
    return None if root is None else (root[0], root[1])


def event_root(packet: bytes) -> tuple[str, str, str | None] | None:
    """:func:`event_head`'s ``(ivorn, role)`` and the root's namespace ("" for none), read
    from the same start tag. The namespace is None when the tag does not declare it plainly
    (an undeclared prefix, a value not UTF-8): the caller parses the packet for it.

    Examples
    --------
    >>> event_root(b'<v:VOEvent xmlns:v="http://www.ivoa.net/xml/VOEvent/v2.1" role="test" '
    ...            b'ivorn="ivo://a.b/c#1"/>')
    ('ivo://a.b/c#1', 'test', 'http://www.ivoa.net/xml/VOEvent/v2.1')
    >>> event_root(b'<VOEvent role="test" ivorn="ivo://a.b/c#1"/>')[2]
    ''
    """
    tag = _event_start_tag(packet)
    if tag is None:
        return None
    prefix, attributes = tag
    ivorn, role = attributes.get(b"ivorn"), attributes.get(b"role")
    if not ivorn or role is None:
        return None
    try:
        return ivorn.decode(), role.decode(), _namespace(prefix, attributes)
    except UnicodeDecodeError:
        return None


def _namespace(prefix: bytes, attributes: dict[bytes, bytes]) -> str | None:
    declared = attributes.get(b"xmlns:" + prefix if prefix else b"xmlns")
    if declared is None:
        return None if prefix else ""  # an undeclared prefix: not well-formed
    try:
        return declared.decode()
    except UnicodeDecodeError:
        return None


def _event_start_tag(packet: bytes) -> tuple[bytes, dict[bytes, bytes]] | None:
    """The prefix and attributes of a plainly written VOEvent root start tag; else None."""
    match = _EVENT_HEAD.match(packet, 0, 4096)
    if match is None or _ATTRIBUTES.fullmatch(match.group(2)) is None:
        return None  # not the whole start tag: it went on past a '>' inside a value
    found: dict[bytes, bytes] = {}
    for name, double, single in _ATTRIBUTE.findall(match.group(2)):
        if name in found:  # a repeated attribute: not well-formed, let the parser say so
            return None
        found[name] = double or single
    return match.group(1) or b"", found

"""Turn untrusted bytes into an lxml element tree with every XML attack surface closed.

The parser never expands entities, never loads a DTD, never touches the network, refuses
documents larger than a byte cap before reading them, and keeps libxml2's nesting limit
(``huge_tree`` off: 256 levels), so hostile input fails in microseconds.  Every failure is
one of our own exceptions (:mod:`vohub.voevent.errors`), never a raw lxml one.

:func:`canonical_xml` gives the form in which two copies of one packet compare equal however
they were serialised (voeventdb's dumps, for one, re-serialise every packet).
"""

from __future__ import annotations

import io
import os
import re
import threading
from typing import Any, BinaryIO, cast

from lxml import etree

from vohub.voevent.errors import ForbiddenXML, MalformedXML, PacketTooLarge, UnreadableSource

#: Default size cap in bytes.  Real packets are under 10 kB (the largest of 85 000 archived
#: ones is 8 kB); 1 MiB leaves room for tables and embedded skymap URLs.
MAX_BYTES = 1 << 20
#: Deepest element nesting accepted: libxml2's own limit without ``XML_PARSE_HUGE``.  A real
#: VOEvent nests 8 levels deep (VOEvent/WhereWhen/…/Value2/C1).
MAX_DEPTH = 256

_local = threading.local()
_DECLARED_ENCODING = re.compile(r"""\A(\s*<\?xml[^>]*?encoding\s*=\s*["'])[^"']*(["'])""")


def _parser(*, for_comparison: bool = False) -> etree.XMLParser:
    """This thread's hardened parser (lxml parsers must not be shared between threads).

    The comparison parser keeps comments and processing instructions (they are part of what
    was sent) and drops whitespace-only text between elements (layout, not content).
    """
    name = "comparison_parser" if for_comparison else "parser"
    parser: etree.XMLParser | None = getattr(_local, name, None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
            remove_comments=not for_comparison,
            remove_pis=not for_comparison,
            remove_blank_text=for_comparison,
            collect_ids=False,
        )
        setattr(_local, name, parser)
    return parser


def read_source(
    data: bytes | str | os.PathLike[str], source: str | None, max_bytes: int = MAX_BYTES
) -> tuple[bytes, str]:
    """Return ``(raw bytes, source name)`` for bytes, XML text or a file path.

    A ``str`` is XML text (encoded as UTF-8), never a file name: pass a
    :class:`pathlib.Path` to read a file.  The size cap is checked before reading.

    Parameters
    ----------
    data : bytes, str or os.PathLike
        The packet, its text, or the path of a file holding it.
    source : str or None
        Name used in error messages; defaults to the file name or ``<bytes>``.
    max_bytes : int
        Size cap.

    Examples
    --------
    >>> read_source(b"<a/>", None)
    (b'<a/>', '<bytes>')
    >>> read_source("<a/>", "mine")
    (b'<a/>', 'mine')
    >>> read_source("<?xml version='1.0' encoding='latin-1'?><a>\u00e9</a>", None)[0]
    b"<?xml version='1.0' encoding='UTF-8'?><a>\\xc3\\xa9</a>"
    """
    if isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
        name = source or "<bytes>"
    elif isinstance(data, str):
        name = source or "<str>"
        if not data.lstrip().startswith("<"):
            raise MalformedXML(
                name, "text does not start with '<' (pass a pathlib.Path to read a file)"
            )
        # The text is re-encoded as UTF-8, so a declared encoding must say so too.
        raw = _DECLARED_ENCODING.sub(r"\1UTF-8\2", data, count=1).encode("utf-8")
    else:
        name = source or os.fspath(data)
        raw = _read_file(data, name, max_bytes)
    if len(raw) > max_bytes:
        raise PacketTooLarge(
            name, f"{len(raw)} bytes, over the {max_bytes}-byte cap", size=len(raw)
        )
    return raw, name


def _read_file(path: os.PathLike[str], name: str, max_bytes: int) -> bytes:
    try:
        with open(path, "rb") as handle:
            return read_capped(handle, name, max_bytes)
    except OSError as exc:
        raise UnreadableSource(name, exc.strerror or str(exc)) from exc


def read_capped(handle: BinaryIO, name: str, max_bytes: int = MAX_BYTES) -> bytes:
    """All of ``handle`` (a file, standard input, a pipe), reading at most ``max_bytes + 1``
    bytes, so an oversize packet is never loaded whole; :class:`PacketTooLarge` naming
    ``name`` if it holds more (with its ``size`` when it has one: a pipe has none).

    >>> import io
    >>> read_capped(io.BytesIO(b"<a/>"), "<stdin>", max_bytes=4)
    b'<a/>'
    >>> read_capped(io.BytesIO(b"<ab/>"), "<stdin>", max_bytes=4)
    Traceback (most recent call last):
    ...
    vohub.voevent.errors.PacketTooLarge: <stdin>: packet too large: over the 4-byte cap
    """
    chunks: list[bytes] = []
    taken = 0
    while taken <= max_bytes and (chunk := handle.read(max_bytes + 1 - taken)):
        chunks.append(chunk)  # a raw stream (a pipe) may give less than asked for
        taken += len(chunk)
    if taken <= max_bytes:
        return b"".join(chunks)
    try:
        size = os.fstat(handle.fileno()).st_size  # 0 for a pipe
    except (OSError, ValueError, io.UnsupportedOperation):  # no file behind the stream
        size = 0
    if size <= max_bytes:
        raise PacketTooLarge(name, f"over the {max_bytes}-byte cap")
    raise PacketTooLarge(name, f"{size} bytes, over the {max_bytes}-byte cap", size=size)


def parse_xml(raw: bytes, source: str) -> etree._Element:
    """Parse ``raw`` with the hardened parser and return the root element.

    Raises
    ------
    ForbiddenXML
        The document declares entities (billion laughs, external entities).
    MalformedXML
        Not well-formed: syntax error, truncation, undefined entity, nesting over
        :data:`MAX_DEPTH`.

    Examples
    --------
    >>> parse_xml(b"<a><b/></a>", "<bytes>").tag
    'a'
    >>> parse_xml(b"<a><b></a>", "x.xml")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    vohub.voevent.errors.MalformedXML: x.xml: malformed XML: Opening and ending tag mismatch: ...
    """
    return _parse(raw, source, _parser())


def canonical_xml(raw: bytes, source: str) -> bytes:
    """The packet's content in one fixed form: two copies of a packet are the same packet
    exactly when their canonical forms are equal.

    Exclusive Canonical XML 1.0 of the document after dropping whitespace-only text between
    elements. So the XML declaration, the quotes around attributes and their order, unused
    namespace declarations, character references, CDATA sections and indentation do not
    count; element and attribute values, comments and processing instructions do. Raises
    what :func:`parse_xml` raises.

    Examples
    --------
    >>> canonical_xml(b"<?xml version = '1.0'?>\\n<a  y='2' x='1'>\\n  <b/>\\n</a>", "<bytes>")
    b'<a x="1" y="2"><b></b></a>'
    >>> canonical_xml(b"<a><b>1 </b></a>", "<bytes>") == canonical_xml(b"<a><b>1</b></a>", "")
    False
    """
    root = _parse(raw, source, _parser(for_comparison=True))
    return etree.tostring(root.getroottree(), method="c14n", exclusive=True, with_comments=True)


def _parse(raw: bytes, source: str, parser: etree.XMLParser) -> etree._Element:
    if b"<!ENTITY" in raw:
        raise ForbiddenXML(source, "entity declarations are not accepted")
    try:
        root = etree.fromstring(raw, parser)
    except etree.XMLSyntaxError as exc:
        raise MalformedXML(source, _syntax_reason(exc), line=exc.lineno or None) from exc
    if root is None:  # lxml returns None for an empty document with recover off on some inputs
        raise MalformedXML(source, "empty document")
    dtd = root.getroottree().docinfo.internalDTD
    if dtd is not None and any(True for _ in cast(Any, dtd).iterentities()):
        # Reached only for non-ASCII-compatible encodings (UTF-16) that hide from the scan above.
        raise ForbiddenXML(source, "entity declarations are not accepted")
    return root


def _syntax_reason(exc: etree.XMLSyntaxError) -> str:
    """libxml2's message without its trailing ``, line L, column C``."""
    message = str(exc.msg or exc)
    head, sep, _ = message.rpartition(", line ")
    text = head if sep else message
    if "Excessive depth" in text:
        return f"nesting deeper than {MAX_DEPTH} levels"
    return text

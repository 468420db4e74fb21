"""Validate a parsed VOEvent tree against the XSD of its version (2.0 or 2.1, shipped here).

lxml ``XMLSchema`` objects are not safe to share between threads, so each thread compiles
its own (once, about 20 ms) and keeps it in thread-local storage.  Validation never alters
the tree.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from importlib import resources
from typing import Any, cast

from lxml import etree

from vohub.voevent.errors import NotAVOEvent, SchemaViolation, UnsupportedVersion

NS_V11 = "http://www.ivoa.net/xml/VOEvent/v1.1"
NS_V20 = "http://www.ivoa.net/xml/VOEvent/v2.0"
NS_V21 = "http://www.ivoa.net/xml/VOEvent/v2.1"
#: Root namespace -> VOEvent version it belongs to.
NAMESPACES = {NS_V11: "1.1", NS_V20: "2.0", NS_V21: "2.1"}
#: Versions with a schema in this package -> XSD file name.
SCHEMA_FILES = {"2.0": "VOEvent-v2.0.xsd", "2.1": "VOEvent-v2.1.xsd"}

_local = threading.local()


def schema_for(version: str, source: str | None = None) -> etree.XMLSchema:
    """This thread's compiled XSD for ``version`` ("2.0" or "2.1").

    Raises
    ------
    UnsupportedVersion
        No schema ships for that version.

    Examples
    --------
    >>> schema_for("2.0").validate(etree.fromstring(b"<x/>"))
    False
    """
    cache: dict[str, etree.XMLSchema] | None = getattr(_local, "schemas", None)
    if cache is None:
        cache = _local.schemas = {}
    schema = cache.get(version)
    if schema is None:
        if version not in SCHEMA_FILES:
            raise UnsupportedVersion(
                source or f"VOEvent {version}", f"no schema for VOEvent {version}"
            )
        text = resources.files("vohub.voevent").joinpath("schema", SCHEMA_FILES[version])
        schema = cache[version] = etree.XMLSchema(etree.fromstring(text.read_bytes()))
    return schema


def version_of_root(root: etree._Element, source: str) -> str:
    """The schema version a root element claims by its namespace.

    Raises
    ------
    NotAVOEvent
        The root is not ``VOEvent`` or its namespace is not a VOEvent one.
    SchemaViolation
        The root ``VOEvent`` is in no namespace (the XSD requires one).

    Examples
    --------
    >>> version_of_root(etree.fromstring(f'<v:VOEvent xmlns:v="{NS_V21}"/>'), "x")
    '2.1'
    """
    qname = etree.QName(root)
    if qname.localname != "VOEvent":
        raise NotAVOEvent(source, f"root element is <{qname.localname}>, not <VOEvent>")
    if qname.namespace is None:
        raise SchemaViolation(source, f"root <VOEvent> has no namespace (expected {NS_V20})")
    version = NAMESPACES.get(qname.namespace)
    if version is None:
        raise NotAVOEvent(source, f"root namespace {qname.namespace!r} is not a VOEvent one")
    return version


def validate_tree(root: etree._Element, source: str) -> None:
    """Raise unless ``root`` validates against the XSD its namespace names.

    Raises
    ------
    NotAVOEvent, SchemaViolation, UnsupportedVersion
        See :func:`version_of_root` and :func:`schema_for`; a schema violation carries the
        first error's line.

    Examples
    --------
    >>> root = etree.fromstring(f'<v:VOEvent xmlns:v="{NS_V20}" version="2.0"/>')
    >>> validate_tree(root, "x")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    vohub.voevent.errors.SchemaViolation: x: schema violation: ...'ivorn' is required but missing...
    """
    schema = schema_for(version_of_root(root, source), source)
    if schema.validate(root):
        return
    error = next(iter(cast(Iterable[Any], schema.error_log)))
    raise SchemaViolation(source, error.message, line=error.line or None)

"""Read a VOEvent root's children straight from the libxml2 tree that lxml built."""

from typing import Any

from lxml import etree

from vohub.voevent.model import Packet

#: ``(local name, namespace or None, version, ivorn, role)`` of a root element.
Root = tuple[str, str | None, str | None, str | None, str | None]

def read_root(root: etree._Element) -> Root: ...
def read_body(
    root: etree._Element, problems: list[str]
) -> tuple[dict[str, Any], etree._Element | None, str | None]: ...
def build_packet(fields: dict[str, Any]) -> Packet: ...

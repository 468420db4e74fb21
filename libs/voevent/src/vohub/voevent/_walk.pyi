"""Read a VOEvent root's children straight from the libxml2 tree that lxml built."""

from typing import Any

from lxml import etree

from vohub.voevent.model import Packet

def read_body(
    root: etree._Element, problems: list[str]
) -> tuple[dict[str, Any], etree._Element | None, str | None]: ...
def build_packet(fields: dict[str, Any]) -> Packet: ...

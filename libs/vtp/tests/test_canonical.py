"""The template codec writes exactly what lxml writes, and reads exactly what lxml reads."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from vohub.vtp import canonical
from vohub.vtp.errors import MalformedMessage, UnknownMessage
from vohub.vtp.messages import Ack, IAmAlive, Nak, decode, encode, parse_event, parse_xml

VOEVENTS = Path(__file__).resolve().parents[3] / "data" / "voevents"

XSI = "http://www.w3.org/2001/XMLSchema-instance"


def with_lxml(
    role: str, origin: str, response: str | None, stamp: str, result: str | None
) -> bytes:
    """The message built as a tree and serialised by lxml (the reference)."""
    ns = canonical.TRANSPORT_NS
    root = etree.Element(f"{{{ns}}}Transport", nsmap={"trn": ns, "xsi": XSI})
    root.set("version", "1.0")
    root.set(f"{{{XSI}}}schemaLocation", canonical.SCHEMA_LOCATION)
    root.set("role", role)
    etree.SubElement(root, "Origin").text = origin
    if response is not None:
        etree.SubElement(root, "Response").text = response
    etree.SubElement(root, "TimeStamp").text = stamp
    if result is not None:
        etree.SubElement(etree.SubElement(root, "Meta"), "Result").text = result
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


texts = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=30)
roles = st.sampled_from(["ack", "nak", "iamalive", "authenticate"])


@given(roles, texts, st.none() | texts, texts, st.none() | texts)
def test_render_is_byte_identical_to_lxml_or_declines(
    role: str, origin: str, response: str | None, stamp: str, result: str | None
) -> None:
    fast = canonical.render(role, origin, response, stamp, result)
    try:
        reference = with_lxml(role, origin, response, stamp, result)
    except ValueError:  # lxml refuses control characters: so must the template
        assert fast is None
        return
    if fast is not None:
        assert fast == reference


@given(roles, texts, st.none() | texts, texts, st.none() | texts)
def test_read_agrees_with_the_xml_parser(
    role: str, origin: str, response: str | None, stamp: str, result: str | None
) -> None:
    try:
        payload = with_lxml(role, origin, response, stamp, result)
    except ValueError:
        return
    fast = canonical.read(payload)
    if fast is None:
        return
    root = parse_xml(payload)
    texts = {c.tag: (c.text or "") for c in root}
    meta = root.find("Meta/Result")
    assert fast == (
        root.get("role"),
        texts["Origin"].strip(),
        texts["Response"].strip() if "Response" in texts else None,
        texts["TimeStamp"].strip(),
        None if meta is None else (meta.text or ""),
    )


@pytest.mark.parametrize(
    "message",
    [
        Ack("ivo://nasa.gsfc.gcn/SWIFT#BAT_GRB_Pos_570069-383", "ivo://vohub.test/brokerA"),
        Nak("ivo://a.b/c#1", "ivo://hub/b", "Event rejected: a <b> & 'c'"),
        IAmAlive("ivo://vohub.test/brokerA"),
        IAmAlive("ivo://vohub.test/brokerA", "ivo://vohub.test/subcometF"),
    ],
)
def test_common_messages_take_the_template_both_ways(message: object) -> None:
    payload = encode(message, 1_795_592_693)  # type: ignore[arg-type]
    assert canonical.read(payload) is not None
    assert decode(payload) == message


@pytest.mark.parametrize(
    "payload",
    [
        b"<Transport role='ack'><Origin>x</Origin></Transport>",  # another layout
        with_lxml("ack", "a", None, "t", None).replace(b">a<", b">&#97;<"),  # a character ref
        with_lxml("ack", "x", None, "t", "result outside a nak"),
        with_lxml("ack", "\xe9", None, "t", None).replace("\xe9".encode(), b"\xff"),  # not UTF-8
    ],
)
def test_anything_off_the_template_is_left_to_lxml(payload: bytes) -> None:
    assert canonical.read(payload) is None


def test_ack_origin_counts_any_ack_and_nothing_else() -> None:
    pygcn = (
        b"<?xml version='1.0' encoding='UTF-8'?><trn:Transport role=\"ack\" version=\"1.0\" "
        b'xmlns:trn="http://telescope-networks.org/schema/Transport/v1.1">'
        b"<Origin>ivo://a.b/c#9</Origin></trn:Transport>"
    )
    assert canonical.ack_origin(pygcn) == "ivo://a.b/c#9"
    assert canonical.ack_origin(encode(IAmAlive("ivo://a"), 0)) is None
    assert canonical.ack_origin(b'<!DOCTYPE x><Transport role="ack"/>') is None
    assert canonical.ack_origin(b'<Transport role="ack"/>') == ""


def test_event_head_agrees_with_the_parser_on_every_real_packet() -> None:
    packets = sorted(VOEVENTS.rglob("*.xml"))
    assert len(packets) > 20
    for path in packets:
        raw = path.read_bytes()
        head = canonical.event_head(raw)
        try:
            event = parse_event(raw)
        except (MalformedMessage, UnknownMessage):
            continue  # not a VOEvent: a None is fine, an answer must not contradict the parser
        assert head is None or head == (event.ivorn, event.role), path


def namespace_read(packet: bytes) -> str | None:
    """The root's namespace as :func:`canonical.event_root` reads it, or None."""
    root = canonical.event_root(packet)
    return None if root is None else root[2]


def test_event_root_agrees_with_the_parser_on_every_real_packet() -> None:
    read = 0
    for path in sorted(VOEVENTS.rglob("*.xml")):
        raw = path.read_bytes()
        try:
            root = parse_xml(raw)
        except MalformedMessage:
            continue
        namespace = namespace_read(raw)
        assert namespace is None or namespace == (etree.QName(root).namespace or ""), path
        read += namespace is not None
    assert read > 20  # 2.0, 2.1 and none among them


@pytest.mark.parametrize(
    ("attributes", "namespace"),
    [
        (b'v:VOEvent xmlns="a" xmlns:v="b"', "b"),
        (b'VOEvent xmlns="a" xmlns:v="b"', "a"),
        (b'v:VOEvent xmlns="a"', None),  # an undeclared prefix
        (b'VOEvent xmlns="a&amp;b"', None),  # an entity: the parser reads it
        (b'VOEvent xmlns="\xff"', None),
    ],
)
def test_event_root_reads_the_root_prefix_declaration(
    attributes: bytes, namespace: str | None
) -> None:
    packet = b"<" + attributes + b' role="test" ivorn="ivo://a.b/c#1"/>'
    assert namespace_read(packet) == namespace
    assert canonical.event_head(packet) == (
        None if b"&" in attributes else ("ivo://a.b/c#1", "test")
    )


@pytest.mark.parametrize(
    "packet",
    [
        b'<VOEvent role="test" role="test" ivorn="ivo://a.b/c#1"/>',  # repeated attribute
        b'<VOEvent role="test" ivorn="ivo://a.b/c#1&amp;2"/>',  # an entity: the parser reads it
        # a '>' in a value: what follows it looks like attributes, and is not
        b'<VOEvent x="ivorn=\'ivo://a.b/c#2\' role=\'test\' >" role="test" ivorn="ivo://a.b/c#1"/>',
        b'<VOEvent role="test"/>',  # no IVORN
        b"<Transport role='ack'/>",
        b"\xff\xfe<\x00V\x00",  # not even ASCII-compatible
    ],
)
def test_event_head_leaves_unusual_packets_to_the_parser(packet: bytes) -> None:
    assert canonical.event_head(packet) is None

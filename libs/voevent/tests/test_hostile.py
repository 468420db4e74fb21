"""Hostile and broken input is refused with our own exception type, fast, naming the source."""

from __future__ import annotations

from pathlib import Path

import pytest

from vohub.voevent import (
    ForbiddenXML,
    MalformedXML,
    NotAVOEvent,
    PacketTooLarge,
    UnreadableSource,
    VOEventError,
    parse,
)

pytestmark = pytest.mark.timeout(5)

GOOD = Path(__file__).resolve().parents[3] / "data/voevents/voeventdb/BAT_GRB_Pos_655721-214.xml"

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<voe:VOEvent xmlns:voe="http://www.ivoa.net/xml/VOEvent/v2.0" version="2.0"
 ivorn="ivo://evil.org/bomb#1"><Description>&lol9;</Description></voe:VOEvent>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/hostname">]>
<voe:VOEvent xmlns:voe="http://www.ivoa.net/xml/VOEvent/v2.0" version="2.0"
 ivorn="ivo://evil.org/xxe#1"><Description>&e;</Description></voe:VOEvent>"""


def test_billion_laughs_is_forbidden() -> None:
    with pytest.raises(ForbiddenXML, match=r"bomb.xml: forbidden XML construct: entity"):
        parse(BILLION_LAUGHS, source="bomb.xml")


def test_external_entity_is_forbidden_and_never_read() -> None:
    with pytest.raises(ForbiddenXML, match=r"xxe.xml") as info:
        parse(EXTERNAL_ENTITY, source="xxe.xml")
    assert Path("/etc/hostname").read_text().strip() not in str(info.value)


def test_entities_hidden_in_utf16_are_still_forbidden() -> None:
    with pytest.raises(ForbiddenXML, match=r"utf16.xml"):
        parse(
            EXTERNAL_ENTITY.decode().replace('<?xml version="1.0"?>', "").encode("utf-16"),
            source="utf16.xml",
        )


def test_undeclared_entity_reference_is_malformed() -> None:
    data = b'<voe:VOEvent xmlns:voe="http://www.ivoa.net/xml/VOEvent/v2.0">&e;</voe:VOEvent>'
    with pytest.raises(
        MalformedXML, match=r"undeclared.xml: malformed XML: Entity 'e' not defined"
    ):
        parse(data, source="undeclared.xml")


@pytest.mark.parametrize("depth", [300, 20_000])
def test_deep_nesting_is_malformed(depth: int) -> None:
    data = b"<a>" * depth + b"</a>" * depth
    with pytest.raises(MalformedXML, match=r"deep.xml: malformed XML: nesting deeper than 256"):
        parse(data, source="deep.xml")


def test_truncated_packet_is_malformed_with_line() -> None:
    data = GOOD.read_bytes()[:-200]
    with pytest.raises(MalformedXML, match=r"cut.xml: malformed XML") as info:
        parse(data, source="cut.xml")
    assert info.value.line is not None
    assert info.value.line > 1


def test_wrong_namespace_is_not_a_voevent() -> None:
    data = GOOD.read_bytes().replace(b"VOEvent/v2.0", b"VOEvent/v9.9")
    with pytest.raises(NotAVOEvent, match=r"ns.xml: not a VOEvent: root namespace"):
        parse(data, source="ns.xml")


def test_other_root_element_is_not_a_voevent() -> None:
    with pytest.raises(NotAVOEvent, match=r"html.xml: not a VOEvent: root element is <html>"):
        parse(b"<html><body/></html>", source="html.xml")


def test_missing_ivorn_is_not_a_voevent() -> None:
    data = b'<voe:VOEvent xmlns:voe="http://www.ivoa.net/xml/VOEvent/v2.0" version="2.0"/>'
    with pytest.raises(NotAVOEvent, match=r"<bytes>: not a VOEvent: .* no ivorn"):
        parse(data)


def test_oversize_bytes_are_refused_before_parsing() -> None:
    data = GOOD.read_bytes()
    with pytest.raises(PacketTooLarge, match=rf"big.xml: packet too large: {len(data)} bytes"):
        parse(data, source="big.xml", max_bytes=1000)


def test_oversize_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "huge.xml"
    path.write_bytes(b"<a>" + b" " * 2_000_000 + b"</a>")
    with pytest.raises(
        PacketTooLarge, match=r"huge.xml: packet too large: 2000007 bytes, over"
    ) as caught:
        parse(path)  # the file's size, though only the cap and one byte more were read
    assert caught.value.size == 2_000_007


def test_missing_file_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(UnreadableSource, match=r"nothing.xml: cannot read: No such file"):
        parse(tmp_path / "nothing.xml")


def test_str_that_is_not_xml_says_to_pass_a_path() -> None:
    with pytest.raises(MalformedXML, match=r"pathlib.Path"):
        parse("packet.xml")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00\x01\x02",
        b"<",
        b"<?xml version='1.0'?>",
        "<a>\u00e9</b>".encode(),
        b"<a b='1' b='2'/>",
    ],
)
def test_garbage_only_ever_raises_our_errors(data: bytes) -> None:
    with pytest.raises(VOEventError) as info:
        parse(data)
    assert type(info.value).__module__ == "vohub.voevent.errors"
    assert isinstance(info.value.__cause__, Exception) or info.value.__cause__ is None

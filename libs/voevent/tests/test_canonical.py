"""canonical_xml: copies of one packet are equal however serialised; content changes show."""

from __future__ import annotations

from pathlib import Path

import pytest

from vohub.testing.archive import as_voeventdb_dumps
from vohub.voevent import ForbiddenXML, MalformedXML, canonical_xml

DATA = Path(__file__).resolve().parents[3] / "data/voevents"
#: A GCN packet as sent (indented).
AS_SENT = (DATA / "fourpisky-core/BAT_GRB_Pos_558756-820.xml").read_bytes()


def test_voeventdb_copy_of_every_sample_packet_is_the_same_packet() -> None:
    packets = [p.read_bytes() for p in sorted(DATA.rglob("*.xml"))]
    assert len(packets) == 26
    for raw in packets:
        dumped = as_voeventdb_dumps(raw)
        assert canonical_xml(dumped, "dump") == canonical_xml(raw, "sent")
    assert sum(as_voeventdb_dumps(raw) != raw for raw in packets) >= 20  # the bytes differ


def test_real_voeventdb_dump_member_matches_the_packet_as_sent() -> None:
    sent = (DATA / "voevent-parse/ASASSN#2016-09-25.47_2016fvf_PTSS-16nqb_PS16ejf.xml").read_bytes()
    # The same packet's member in the 2016-09 voeventdb dump: only its XML declaration differs.
    dumped = sent.replace(
        b'<?xml version="1.0" encoding="UTF-8"?>', b"<?xml version='1.0' encoding='UTF-8'?>"
    )
    assert dumped != sent
    assert canonical_xml(dumped, "dump") == canonical_xml(sent, "sent")


@pytest.mark.parametrize(
    ("same", "other"),
    [
        (b'<a x="1" y="2"/>', b"<a y='2'  x='1'></a>"),
        (b"<a><b>&#233;</b></a>", "<a><b>\u00e9</b></a>".encode()),
        (b"<a><b><![CDATA[<i>]]></b></a>", b"<a><b>&lt;i&gt;</b></a>"),
        (b'<a xmlns:unused="urn:x"><b/></a>', b"<a><b/></a>"),
        (b'<?xml version="1.0" encoding="ISO-8859-1"?><a>\xe9</a>', "<a>\u00e9</a>".encode()),
    ],
)
def test_serialisation_does_not_count(same: bytes, other: bytes) -> None:
    assert canonical_xml(same, "one") == canonical_xml(other, "other")


@pytest.mark.parametrize(
    "edit",
    [
        (b"<C1>308.3495</C1>", b"<C1>308.3496</C1>"),  # a coordinate
        (b'value="558756"', b'value="558757"'),  # a Param value
        (b"</voe:VOEvent>", b"<!-- edited --></voe:VOEvent>"),  # a comment
        (b"<Date>", b"<Date> "),  # whitespace inside a value
    ],
)
def test_any_content_change_counts(edit: tuple[bytes, bytes]) -> None:
    old, new = edit
    assert old in AS_SENT
    changed = AS_SENT.replace(old, new, 1)
    assert canonical_xml(changed, "changed") != canonical_xml(AS_SENT, "sent")


def test_hostile_and_broken_input_get_our_errors_naming_the_source() -> None:
    with pytest.raises(ForbiddenXML, match=r"^evil: "):
        canonical_xml(b'<!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>', "evil")
    with pytest.raises(MalformedXML, match=r"^cut: "):
        canonical_xml(AS_SENT[:500], "cut")

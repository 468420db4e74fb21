"""Concrete values extracted from real packets: positions, UTC times, citations, params, How/Why."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from vohub.voevent import Citation, Packet, parse

Member = Callable[[str, str], bytes]


def test_swift_bat_grb_position(voevents: Path) -> None:
    p = parse(voevents / "voeventdb/BAT_GRB_Pos_655721-214.xml", strict=True)
    assert (p.ivorn, p.role, p.version) == (
        "ivo://nasa.gsfc.gcn/SWIFT#BAT_GRB_Pos_655721-214",
        "observation",
        "2.0",
    )
    assert p.stream == "nasa.gsfc.gcn/SWIFT"
    assert p.author_ivorn == "ivo://nasa.gsfc.tan/gcn"
    assert p.author_datetime == datetime(2015, 9, 15, 21, 19, 42, tzinfo=UTC)
    pos = p.positions[0]
    assert (pos.ra, pos.dec, pos.error, pos.unit) == (319.7309, -34.8537, 0.05, "deg")
    assert (pos.coord_system, pos.observatory) == ("UTC-FK5-GEO", "GEOLUN")
    assert pos.time == datetime(2015, 9, 15, 21, 18, 24, 860000, tzinfo=UTC)
    assert p.param("TrigID") is not None
    assert p.param("TrigID").ucd == "meta.id"
    assert [g.name for g in p.groups] == [
        "Merit_Values",
        "Solution_Status",
        "Misc_Flags",
        "Obs_Support_Info",
    ]
    sun = p.group("Obs_Support_Info")
    assert sun is not None
    assert sun.description is not None
    assert sun.description.startswith("The Sun and Moon")
    assert p.why is not None
    assert p.why.importance == 0.9
    assert p.why.inferences[0].names == ("GRB 150915",)
    assert p.why.inferences[0].concepts == ("process.variation.burst;em.gamma",)
    assert p.how is not None
    assert p.how.descriptions == ("Swift Satellite, BAT Instrument",)
    assert p.how.references[0].uri == "http://gcn.gsfc.nasa.gov/swift.html"
    assert p.who_description == (
        "This VOEvent message was created with GCN VOE version: 1.20 11sep15"
    )
    assert p.wherewhen_description == "The RA,Dec coordinates are of the type: source_object."
    assert p.problems == ()


def test_swift_xrt_followup_citation(voevents: Path) -> None:
    p = parse(voevents / "voeventdb/XRT_Pos_655721-326.xml")
    assert p.citations == (
        Citation(
            "ivo://nasa.gsfc.gcn/SWIFT#BAT_GRB_Pos_655721-214",
            "followup",
            "This is the XRT Position for the original BAT trigger.",
        ),
    )
    assert (p.position.ra, p.position.dec, p.position.error) == (319.6588, -34.9131, 0.001)  # type: ignore[union-attr]


def test_gaia_tdb_packet_converted_from_tcb_to_utc(voevents: Path) -> None:
    p = parse(voevents / "voeventdb/Gaia16bsf.xml")
    pos = p.positions[0]
    assert (pos.coord_system, pos.iso_time, pos.time_scale) == (
        "TDB-ICRS-BARY",
        "2016-10-31T22:27:33",
        "TCB",
    )
    assert pos.time is not None
    # TCB − UTC was 87.67 s in late 2016 (TDB would give 22:26:24.817, voeventdb's value).
    assert pos.time.replace(microsecond=0) == datetime(2016, 10, 31, 22, 26, 5, tzinfo=UTC)
    assert (pos.ra, pos.dec, pos.error) == (266.36987, -28.15615, 2e-05)
    assert any("TCB" in problem for problem in p.problems)


def test_lowercase_datatype_is_read_and_reported(voevents: Path) -> None:
    # GECAM packets (28 in the 2023-11 archive) spell it this way; check it on a sample.
    raw = (voevents / "voeventdb/BAT_GRB_Pos_655721-214.xml").read_bytes()
    raw = raw.replace(b'name="Packet_Type" ', b'name="Packet_Type" datatype="int" ')
    p = parse(raw, check_schema=True)
    assert p.param("Packet_Type").typed_value == 61  # type: ignore[union-attr]
    assert p.problems[0] == "Param 'Packet_Type': attribute 'datatype' should be spelt 'dataType'"
    assert p.problems[1].startswith("schema violation: Element 'Param', attribute 'datatype'")


def test_gaia_unnamed_param_with_value_child(voevents: Path) -> None:
    p = parse(voevents / "voevent-parse/Gaia16aac.xml")
    first = p.params[0]
    assert (first.name, first.value, first.ucd) == (None, "Gaia16aac", "meta.id")
    assert first.description == "Gaia alert unique identifier"
    mag = p.group("alert-magnitude").param("averagemag")  # type: ignore[union-attr]
    assert mag is not None
    assert (mag.typed_value, mag.unit, mag.ucd) == (17.32, "mag", "phot.mag")
    assert p.references[0].uri == "http://gsaweb.ast.cam.ac.uk/alerts/alert/Gaia16aac"


def test_voevent_1_1_packet_with_stc_namespaced_wherewhen(voevents: Path) -> None:
    p = parse(voevents / "voevent-parse/SWIFT_xrt_position_v1.1_example.xml")
    assert p.version == "1.1"
    assert (p.position.ra, p.position.dec) == (314.7162, -53.393)  # type: ignore[union-attr]
    assert p.position.time == datetime(2015, 6, 16, 23, 5, 40, tzinfo=UTC)  # type: ignore[union-attr]
    assert p.citations[0].ivorn == "ivo://nasa.gsfc.gcn/SWIFT#BAT_GRB_Pos_644259-771"


def test_voevent_2_1_prediction_with_table_and_inference_references(voevents: Path) -> None:
    p = parse(voevents / "VOEvent/voevent-ex2.xml", strict=True)
    assert (p.role, p.version, p.position.position_name) == ("prediction", "2.1", "Jupiter")  # type: ignore[union-attr]
    assert p.tables[0].column("Start Time")[0] == "2018-10-03T10:00:00.000"
    assert len(p.tables[0].rows) == 3
    first = p.why.inferences[0]  # type: ignore[union-attr]
    assert first.probability == 1.0
    assert first.references[0].uri == "https://doi.org/10.48322/1shr-ht18"
    assert p.group("target").param("target_name").utype == "epn:target_name"  # type: ignore[union-attr]


def test_un_namespaced_root_is_read_with_problems(voevents: Path) -> None:
    p = parse(voevents / "voevent-parse/no_namespace_packet.xml")
    assert p.ivorn == "ivo://com.dc3/dc3.broker#BrokerTest-2014-02-24T15:55:27.72"
    assert p.problems == (
        "root <VOEvent> has no namespace",
        "Position2D has no unit; degrees assumed",
    )
    assert p.tables[0].name == "IP Addresses"
    assert p.tables[0].rows[1] == ("192.168.2.1",)


def test_konus_dummy_position_is_kept_with_coords_string(voevents: Path) -> None:
    p = parse(voevents / "voeventdb/Konus_Lightcurve_2015-07-10T00:28:01.68.xml")
    assert (p.position.ra, p.position.dec) == (0.0, 0.0)  # type: ignore[union-attr]
    assert p.param("Coords_String").value == "unavailable/inappropriate"  # type: ignore[union-attr]


def test_asassn_offset_suffixed_isotime(voevents: Path) -> None:
    p = parse(voevents / "voevent-parse/ASASSN#2016-09-25.47_2016fvf_PTSS-16nqb_PS16ejf.xml")
    assert p.position.time == datetime(2016, 9, 25, 11, 16, 48, tzinfo=UTC)  # type: ignore[union-attr]
    assert p.position.coord_system == "UTC-ICRS-GEO"  # type: ignore[union-attr]


def test_lvc_retraction_cites_two_packets(tarball_member: Member) -> None:
    p = parse(tarball_member("2023-11.001.tar.bz2", "gwnet/LVC/MS231101a-3-Retraction.xml"))
    assert p.role == "test"
    assert p.author_ivorn is None
    assert [(c.ivorn, c.cite) for c in p.citations] == [
        ("ivo://gwnet/LVC#MS231101a-2-Preliminary", "retraction"),
        ("ivo://gwnet/LVC#MS231101a-1-Preliminary", "retraction"),
    ]
    assert {c.description for c in p.citations} == {
        "Determined to not be a viable GW event candidate"
    }
    assert p.position.time == datetime(2023, 11, 1, 0, 45, 56, tzinfo=UTC)  # type: ignore[union-attr]
    assert p.position.ra is None  # type: ignore[union-attr]
    graceid = p.param("GraceID")
    assert graceid is not None
    assert (graceid.value, graceid.datatype) == ("MS231101a", "string")
    assert graceid.description == "Identifier in GraceDB"


def test_lvc_preliminary_typed_groups(tarball_member: Member) -> None:
    p = parse(tarball_member("2020-06.002.tar.bz2", "gwnet/LVC/MS200630m-1-Preliminary.xml"))
    assert [(g.name, g.type) for g in p.groups] == [
        ("GW_SKYMAP", "GW_SKYMAP"),
        ("Classification", "Classification"),
        ("Properties", "Properties"),
    ]
    assert p.param("Packet_Type").typed_value == 150  # type: ignore[union-attr]
    assert p.position.time == datetime(2020, 6, 30, 12, 34, 5, 113549, tzinfo=UTC)  # type: ignore[union-attr]


def test_integral_spiacs_test_packet(tarball_member: Member) -> None:
    name = "nasa.gsfc.gcn/INTEGRAL/SPIACS_000000-0-356.xml"
    p = parse(tarball_member("2016-09.001.tar.bz2", name), strict=True)
    assert (p.role, p.stream) == ("test", "nasa.gsfc.gcn/INTEGRAL")
    inten = p.param("Inten_Sigma")
    assert inten is not None
    assert (inten.value, inten.unit, inten.ucd) == (
        "11.34",
        "sigma",
        "stat.snr",
    )
    assert inten.typed_value == "11.34"  # no dataType: the schema default is string
    assert p.group("Test_mpos").param("Def_NOT_a_GRB").value == "false"  # type: ignore[union-attr]
    assert p.position.time == datetime(2016, 5, 23, 12, 3, 23, 680000, tzinfo=UTC)  # type: ignore[union-attr]


def test_scraped_gaia_packet(tarball_member: Member) -> None:
    p = parse(tarball_member("2016-09.001.tar.bz2", "voevent.4pisky.org/GAIA/Gaia16big.xml"))
    pos = p.positions[0]
    assert (pos.ra, pos.dec, pos.coord_system) == (304.48564, -34.91376, "UTC-ICRS-GEO")
    assert pos.time == datetime(2016, 9, 17, 6, 24, 1, 386894, tzinfo=UTC)
    assert p.group("gsaweb_params").param("Name").value == "Gaia16big"  # type: ignore[union-attr]


@pytest.mark.parametrize("strict", [False, True])
def test_every_sample_packet_parses(voevents: Path, strict: bool) -> None:
    invalid = {"SWIFT_xrt_position_v1.1_example.xml", "no_namespace_packet.xml"}
    for path in sorted(voevents.rglob("*.xml")):
        if strict and path.name in invalid:
            continue
        packet = parse(path, strict=strict)
        assert isinstance(packet, Packet)
        assert packet.raw == path.read_bytes()

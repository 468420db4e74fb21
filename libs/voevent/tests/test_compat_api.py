"""voevent-parse-style readers with its bugs fixed; validation; thread safety; lazy astropy."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from vohub.voevent import (
    NotAVOEvent,
    SchemaViolation,
    UnsupportedVersion,
    get_event_position,
    get_event_time_as_utc,
    get_grouped_params,
    get_toplevel_params,
    is_valid,
    parse,
    to_skycoord,
    to_time,
    validate,
)

TWO_POSITIONS = b"""<voe:VOEvent xmlns:voe="http://www.ivoa.net/xml/VOEvent/v2.0" version="2.0"
 ivorn="ivo://example.org/two#1" role="test"><WhereWhen>
<ObsDataLocation><ObservatoryLocation id="GEOSURFACE"/><ObservationLocation>
 <AstroCoordSystem id="UTC-FK5-GEO"/><AstroCoords coord_system_id="UTC-FK5-GEO">
 <Time><TimeInstant><ISOTime>2020-01-01T00:00:00</ISOTime></TimeInstant></Time>
 <Position2D unit="deg"><Value2><C1>1</C1><C2>2</C2></Value2>
 <Error2Radius>0.5</Error2Radius></Position2D>
</AstroCoords></ObservationLocation></ObsDataLocation>
<ObsDataLocation><ObservatoryLocation id="GEOSURFACE"/><ObservationLocation>
 <AstroCoordSystem id="TT-ICRS-TOPO"/><AstroCoords coord_system_id="TT-ICRS-TOPO">
 <Time><TimeInstant><ISOTime>2020-01-01T00:01:09.184</ISOTime></TimeInstant></Time>
 <Position2D unit="arcsec"><Value2><C1>36000</C1><C2>-7200</C2></Value2>
 <Error2Radius>1.8</Error2Radius></Position2D>
</AstroCoords></ObservationLocation></ObsDataLocation>
</WhereWhen></voe:VOEvent>"""


def test_position_system_is_per_location_and_tt_converts() -> None:
    assert get_event_position(TWO_POSITIONS, 0).system == "UTC-FK5-GEO"
    second = get_event_position(TWO_POSITIONS, 1)
    assert (second.ra, second.dec, second.err, second.units) == (10.0, -2.0, 0.0005, "deg")
    assert second.system == "TT-ICRS-TOPO"
    # TT − UTC = 69.184 s in 2020 (voevent-parse raised NotImplementedError here).
    assert get_event_time_as_utc(TWO_POSITIONS, 1) == datetime(2020, 1, 1, 0, 0, 0, tzinfo=UTC)


def test_missing_version_is_a_problem_not_a_keyerror() -> None:
    data = b'<VOEvent ivorn="ivo://example.org/a#1"/>'
    packet = parse(data)
    assert packet.version is None
    assert packet.problems == (
        "root <VOEvent> has no namespace",
        "root <VOEvent> has no version attribute",
    )
    assert get_event_time_as_utc(data) is None


def test_params_as_multidicts(voevents: Path) -> None:
    path = voevents / "voeventdb/BAT_GRB_Pos_655721-214.xml"
    top = get_toplevel_params(path)
    assert top["Burst_SOD"] == {
        "name": "Burst_SOD",
        "value": "76704.86",
        "unit": "sec",
        "ucd": "time",
    }
    grouped = get_grouped_params(path)
    assert list(grouped) == ["Merit_Values", "Solution_Status", "Misc_Flags", "Obs_Support_Info"]
    assert grouped["Misc_Flags"]["ImTrig_during_ST_LoL"]["value"] == "false"  # type: ignore[index]


def test_gaia_unnamed_params_share_the_none_key(voevents: Path) -> None:
    top = get_toplevel_params(voevents / "voevent-parse/Gaia16aac.xml")
    assert [d["value"] for d in top.getlist(None)] == ["Gaia16aac", "G"]  # type: ignore[index]


def test_parsing_leaves_no_pseudo_child(voevents: Path) -> None:
    raw = (voevents / "voevent-parse/voevent.xml").read_bytes()
    assert b"original_prefix" not in raw
    assert parse(raw).raw == raw


def test_validate_errors_carry_type_culprit_and_line(voevents: Path) -> None:
    with pytest.raises(UnsupportedVersion, match=r"v11.xml: unsupported VOEvent version"):
        validate(voevents / "voevent-parse/SWIFT_xrt_position_v1.1_example.xml", source="v11.xml")
    with pytest.raises(SchemaViolation, match=r"no_namespace_packet.xml: schema violation: root"):
        validate(voevents / "voevent-parse/no_namespace_packet.xml")
    bad = (
        (voevents / "voevent-parse/voevent.xml")
        .read_bytes()
        .replace(b'role="test"', b'role="party"')
    )
    with pytest.raises(
        SchemaViolation, match=r"ivo://example/exciting_events#123: .*'party'"
    ) as info:
        validate(bad)
    assert info.value.line == 7  # libxml2 reports the line where the root start tag ends
    assert info.value.nak_reason.startswith("schema violation: ")
    with pytest.raises(NotAVOEvent):
        validate(b"<root/>")


def test_default_namespace_root_is_read_but_invalid(voevents: Path) -> None:
    raw = (voevents / "voevent-parse/voevent.xml").read_bytes()
    assert b"voe:VOEvent" in raw
    default = raw.replace(b"voe:VOEvent", b"VOEvent").replace(b"xmlns:voe=", b"xmlns=")
    packet = parse(default)
    assert packet.ivorn == "ivo://example/exciting_events#123"
    assert packet.position is not None
    assert packet.problems[0] == "<Who> is namespaced; VOEvent children are unqualified"
    assert not is_valid(default)


def test_validation_and_parsing_are_thread_safe(voevents: Path) -> None:
    paths = sorted(voevents.rglob("*.xml")) * 20
    expected = [is_valid(p) for p in paths]
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(is_valid, paths))
        packets = list(pool.map(parse, paths))
    assert got == expected
    assert sum(expected) == 20 * (len(paths) // 20 - 2)
    assert [p.ivorn for p in packets] == [parse(p).ivorn for p in paths]


def test_astropy_conversions(voevents: Path) -> None:
    packet = parse(voevents / "voeventdb/BAT_GRB_Pos_655721-214.xml")
    coord = to_skycoord(packet)
    assert (coord.frame.name, float(coord.ra.deg), float(coord.dec.deg)) == (
        "fk5",
        319.7309,
        -34.8537,
    )
    assert to_time(packet).isot == "2015-09-15T21:18:24.860"
    with pytest.raises(ValueError, match=r"has no WhereWhen position"):
        to_time(parse(voevents / "fourpiskytools/test_packet.xml"))


def test_importing_the_package_does_not_import_astropy() -> None:
    code = "import sys, vohub.voevent; print('astropy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_text_input_with_a_declared_encoding() -> None:
    text = (
        '<?xml version="1.0" encoding="ISO-8859-1"?><voe:VOEvent'
        ' xmlns:voe="http://www.ivoa.net/xml/VOEvent/v2.0" version="2.0" ivorn="ivo://a.b/c#1">'
        "<Description>café</Description></voe:VOEvent>"
    )
    assert parse(text).description == "café"


def test_time_of_a_position_the_packet_lacks_is_an_index_error(voevents: Path) -> None:
    # voevent-parse raises IndexError for index 1 too (this gave None) and gives None only
    # when there is no position at all.
    path = voevents / "voeventdb/XRT_Pos_655721-326.xml"
    assert get_event_time_as_utc(path, -1) == datetime(2015, 9, 15, 21, 24, 37, tzinfo=UTC)
    missing = r"^ivo://nasa.gsfc.gcn/SWIFT#XRT_Pos_655721-326: no position 1 \(it has 1\)$"
    with pytest.raises(IndexError, match=missing):
        get_event_time_as_utc(path, 1)
    with pytest.raises(IndexError, match=missing):
        get_event_position(path, 1)
    assert get_event_time_as_utc(voevents / "fourpiskytools/test_packet.xml", 1) is None


def test_unreadable_isotime_is_a_value_error(tarball_member: Callable[[str, str], bytes]) -> None:
    # Swift wrote a garbled date; voevent-parse raises iso8601.ParseError (a ValueError)
    # where this gave None, as for a position without a time.
    raw = tarball_member("2023-11.001.tar.bz2", "nasa.gsfc.gcn/SWIFT/BAT_Scaledmap_1194500-370.xml")
    assert get_event_position(raw) == (6.4239, 64.0137, 0.0, "deg", "UTC-FK5-GEO")
    with pytest.raises(
        ValueError,
        match=r"^ivo://nasa.gsfc.gcn/SWIFT#BAT_Scaledmap_1194500-370: position 0:"
        r" ISOTime '2023-512--1076359880T00:01:05.28' is not a date-time$",
    ):
        get_event_time_as_utc(raw)

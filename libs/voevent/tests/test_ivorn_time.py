"""IVORN parsing and unique stamps; time-scale conversion to UTC."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from vohub.voevent import (
    InvalidIvorn,
    Packet,
    is_valid_ivorn,
    parse,
    parse_ivorn,
    stamp,
    stream_of,
    to_utc,
)
from vohub.voevent.timescale import OutOfRange


@pytest.mark.parametrize(
    ("ivorn", "parts"),
    [
        (
            "ivo://nasa.gsfc.gcn/SWIFT#BAT_GRB_Pos_532871-729",
            ("nasa.gsfc.gcn", "/SWIFT", "BAT_GRB_Pos_532871-729"),
        ),
        (
            "ivo://voeventdb.4pisky.org/subscribe-only",
            ("voeventdb.4pisky.org", "/subscribe-only", None),
        ),
        (
            "ivo://nasa.gsfc.gcn/MOA#Lensing_Event_2015-07-10T14:50:54.00_4201500354-0-309",
            ("nasa.gsfc.gcn", "/MOA", "Lensing_Event_2015-07-10T14:50:54.00_4201500354-0-309"),
        ),
        (
            "ivo://psws.irap/VOEvent/Tao_Jupiter_2018-10-02T17_34_45::v1.0",
            ("psws.irap", "/VOEvent/Tao_Jupiter_2018-10-02T17_34_45::v1.0", None),
        ),
    ],
)
def test_parse_real_ivorns(ivorn: str, parts: tuple[str, str, str | None]) -> None:
    parsed = parse_ivorn(ivorn)
    assert (parsed.authority, parsed.resource, parsed.local_id) == parts
    assert str(parsed) == ivorn


@pytest.mark.parametrize(
    ("ivorn", "reason"),
    [
        ("http://example.org/a#1", "not of the form"),
        ("ivo://ab/c#1", "not of the form"),
        ("ivo://example.org//x#1", "empty, '.' or '..' segment"),
        ("ivo://example.org/a/../b#1", "empty, '.' or '..' segment"),
        ("ivo://example.org/a/#1", "empty, '.' or '..' segment"),
        ("ivo://example.org/a b#1", "not of the form"),
    ],
)
def test_bad_ivorns_name_the_culprit(ivorn: str, reason: str) -> None:
    with pytest.raises(InvalidIvorn, match=reason) as info:
        parse_ivorn(ivorn)
    assert str(info.value).startswith(f"{ivorn}: invalid IVORN")


def test_local_id_required_on_demand() -> None:
    with pytest.raises(InvalidIvorn, match=r"no #local_id"):
        parse_ivorn("ivo://example.org/stream#", require_local_id=True)
    assert not is_valid_ivorn("ivo://example.org/stream")
    assert is_valid_ivorn("ivo://example.org/stream", require_local_id=False)


def test_stream_of_matches_voeventdb() -> None:
    assert stream_of("ivo://gaia.cam.uk/alerts#Gaia16bsf") == "gaia.cam.uk/alerts"
    assert stream_of("ivo://a.b.c/d") == "a.b.c/d"


def test_stream_of_drops_the_scheme_in_any_case_as_the_filters_do() -> None:
    """The query filters drop ``IVO://`` from a stream, so the stored stream must not keep it."""
    assert stream_of("IVO://Example.org/alerts#1") == "Example.org/alerts"
    assert Packet("Ivo://example.org/alerts#1", "test", "2.0", b"").stream == "example.org/alerts"
    assert stream_of("example.org/alerts#1") == "example.org/alerts"


def test_stamp_format() -> None:
    ivorn = stamp("ivo://voevent.4pisky.org/TEST", datetime(2014, 11, 13, 21, 18, 55, tzinfo=UTC))
    head, _, tail = ivorn.rpartition("_")
    assert head == "ivo://voevent.4pisky.org/TEST#141113-2118.55"
    assert len(tail) == 12
    assert int(tail, 16) >= 0
    with pytest.raises(InvalidIvorn, match=r"must not contain '#'"):
        stamp("example.org/a#b")


def test_stamps_are_unique_across_processes_in_the_same_second() -> None:
    code = (
        "from datetime import datetime, UTC\n"
        "from vohub.voevent import stamp\n"
        "now = datetime(2020, 1, 1, tzinfo=UTC)\n"
        "print('\\n'.join(stamp('example.org/s', now) for _ in range(500)))\n"
    )
    runs = [
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        for _ in range(4)
    ]
    stamps = [line for run in runs for line in run.stdout.split()]
    assert len(stamps) == 2000
    assert len(set(stamps)) == 2000


@pytest.mark.parametrize(
    ("text", "scale", "expected"),
    [
        ("2014-04-29T23:13:32.00", "UTC", datetime(2014, 4, 29, 23, 13, 32, tzinfo=UTC)),
        ("2016-09-25T11:16:48+00:00", None, datetime(2016, 9, 25, 11, 16, 48, tzinfo=UTC)),
        ("2023-11-01T18:49:33Z", "UTC", datetime(2023, 11, 1, 18, 49, 33, tzinfo=UTC)),
        ("2016-09-25T13:16:48+02:00", "UTC", datetime(2016, 9, 25, 11, 16, 48, tzinfo=UTC)),
        ("2016-10-31T22:27:33", "TDB", datetime(2016, 10, 31, 22, 26, 24, 817475, tzinfo=UTC)),
        ("2016-01-16T07:52:27", "TT", datetime(2016, 1, 16, 7, 51, 18, 816000, tzinfo=UTC)),
        ("2016-01-16T07:52:27", "GPS", datetime(2016, 1, 16, 7, 52, 10, tzinfo=UTC)),
        ("2016-01-16T07:52:27", "TAI", datetime(2016, 1, 16, 7, 51, 51, tzinfo=UTC)),
    ],
)
def test_to_utc(text: str, scale: str | None, expected: datetime) -> None:
    got = to_utc(text, scale)
    assert abs((got - expected).total_seconds()) < 1e-3
    assert got.tzinfo is UTC


def test_tcb_gaia_shift() -> None:
    # fourpisky-core reads GAIA dates as TCB: Gaia16ajo 18:57:00 → 18:55:32.6 UTC.
    got = to_utc("2016-03-29T18:57:00", "TCB")
    assert got.replace(microsecond=0) == datetime(2016, 3, 29, 18, 55, 32, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "scale"),
    [("yesterday", "UTC"), ("2016-01-01T00:00:00", "MARS"), ("2016-01-01T00:00:00+02:00", "TDB")],
)
def test_to_utc_refuses(text: str, scale: str) -> None:
    with pytest.raises(ValueError, match=r"(?i)invalid|unknown time scale|cannot carry"):
        to_utc(text, scale)


@pytest.mark.parametrize(
    ("text", "scale"),
    [
        ("0001-01-01T00:00:00+14:00", "UTC"),
        ("9999-12-31T23:00:00-05:00", "UTC"),
        ("9999-12-31T23:59:50", "GPS"),  # GPS is UTC + 18 s
        ("0001-01-01T00:00:00", "TT"),  # TT is UTC + 69 s
    ],
)
def test_to_utc_refuses_a_time_out_of_range_in_utc(text: str, scale: str) -> None:
    """It raised OverflowError (or astropy's bare "year 0 is out of range"), which no
    caller expected: one such packet broke a whole archive batch."""
    with pytest.raises(OutOfRange, match=re.escape(f"{text!r} is outside the years 1 to 9999")):
        to_utc(text, scale)
    assert issubclass(OutOfRange, ValueError)  # what to_utc documents


def test_packet_with_dates_out_of_range_in_utc_parses_with_problems() -> None:
    late, early = "9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00+14:00"
    xml = (
        '<voe:VOEvent xmlns:voe="http://www.ivoa.net/xml/VOEvent/v2.0" version="2.0"'
        f' ivorn="ivo://example.org/far#1" role="test"><Who><Date>{early}</Date></Who>'
        "<WhereWhen><ObsDataLocation><ObservationLocation>"
        '<AstroCoords coord_system_id="UTC-FK5-GEO"><Time unit="s"><TimeInstant>'
        f"<ISOTime>{late}</ISOTime></TimeInstant></Time>"
        '<Position2D unit="deg"><Name1>RA</Name1><Name2>Dec</Name2>'
        "<Value2><C1>1</C1><C2>2</C2></Value2><Error2Radius>0.1</Error2Radius></Position2D>"
        f'</AstroCoords></ObservationLocation></ObsDataLocation></WhereWhen><Why expires="{late}"/>'
        "</voe:VOEvent>"
    )
    packet = parse(xml)
    assert packet.author_datetime is None
    assert packet.positions[0].time is None
    assert (packet.positions[0].ra, packet.positions[0].dec) == (1.0, 2.0)
    assert packet.problems == (
        f"Who/Date {early!r} is outside the years 1 to 9999 in UTC; no author date kept",
        f"Why/@expires {late!r} is outside the years 1 to 9999 in UTC",
        f"ISOTime {late!r} is outside the years 1 to 9999 in UTC",
    )

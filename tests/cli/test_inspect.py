"""The real ``vohub validate``, ``vohub show`` and ``vohub ivorn`` commands, run as subprocesses."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "data" / "voevents"
VOHUB = Path(sys.executable).parent / "vohub"
BAT = SAMPLES / "voeventdb" / "BAT_GRB_Pos_655721-214.xml"
XRT = SAMPLES / "voeventdb" / "XRT_Pos_655721-326.xml"
GAIA = SAMPLES / "voevent-parse" / "Gaia16aac.xml"
V11 = SAMPLES / "voevent-parse" / "SWIFT_xrt_position_v1.1_example.xml"
RAPTOR = SAMPLES / "VOEvent" / "voevent-ex1.xml"  # Why/Concept, a Table with units
JUPITER = SAMPLES / "VOEvent" / "voevent-ex2.xml"  # packet Description, PositionName
GAIA_BSF = SAMPLES / "voeventdb" / "Gaia16bsf.xml"  # a Why with only a Description
ASASSN = SAMPLES / "voeventdb" / "ASASSN#2016-09-25.47_2016fvf_PTSS-16nqb_PS16ejf.xml"


def vohub(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    if not VOHUB.is_file():
        pytest.fail(f"the vohub console script is not installed at {VOHUB}")
    return subprocess.run(
        [str(VOHUB), *args],
        input=stdin.decode() if stdin else None,
        capture_output=True,
        text=True,
        timeout=60,
    )


def no_traceback(run: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in run.stdout + run.stderr


def test_validate_all_good_exits_zero() -> None:
    run = vohub("validate", str(BAT), str(XRT))
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        f"OK {BAT} ivo://nasa.gsfc.gcn/SWIFT#BAT_GRB_Pos_655721-214",
        f"OK {XRT} ivo://nasa.gsfc.gcn/SWIFT#XRT_Pos_655721-326",
    ]


def test_validate_reports_each_bad_file_and_exits_one(tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.xml"
    truncated.write_bytes(BAT.read_bytes()[:500])
    bomb = tmp_path / "bomb.xml"
    bomb.write_bytes(b'<!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>')
    bad_role = tmp_path / "role.xml"
    bad_role.write_bytes(BAT.read_bytes().replace(b'role="observation"', b'role="rumour"'))
    missing = tmp_path / "missing.xml"
    no_local_id = tmp_path / "no_local_id.xml"  # schema-valid: the XSD does not ask for it
    no_local_id.write_bytes(BAT.read_bytes().replace(b"#BAT_GRB_Pos_655721-214", b""))
    run = vohub("validate", str(BAT), str(truncated), str(bomb), str(bad_role), str(V11),
                str(missing), str(no_local_id))  # fmt: skip
    no_traceback(run)
    assert run.returncode == 1
    lines = run.stdout.splitlines()
    assert lines[0].startswith(f"OK {BAT} ")
    assert lines[1].startswith(f"INVALID {truncated}: malformed XML: ")
    assert (
        lines[2] == f"INVALID {bomb}: forbidden XML construct: entity declarations are not accepted"
    )
    assert re.match(
        rf"INVALID {re.escape(str(bad_role))}: schema violation: .*'rumour'.*, line 2$", lines[3]
    )
    assert lines[4] == f"INVALID {V11}: unsupported VOEvent version: no schema for VOEvent 1.1"
    assert lines[5] == f"INVALID {missing}: cannot read: No such file or directory"
    assert lines[6] == (
        f"INVALID {no_local_id}: invalid IVORN: no #local_id after the stream: "
        "'ivo://nasa.gsfc.gcn/SWIFT'"
    )
    assert len(lines) == 7


def test_validate_reads_stdin() -> None:
    run = vohub("validate", "-", stdin=BAT.read_bytes())
    assert (run.returncode, run.stdout.strip()) == (
        0,
        "OK - ivo://nasa.gsfc.gcn/SWIFT#BAT_GRB_Pos_655721-214",
    )


def test_validate_needs_a_file() -> None:
    run = vohub("validate")
    no_traceback(run)
    assert run.returncode == 2
    assert "FILE" in run.stderr


def test_show_summarises_a_packet() -> None:
    run = vohub("show", str(XRT))
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "Who:      This VOEvent message was created with GCN VOE version: 1.20 11sep15" in out
    assert "IVORN:    ivo://nasa.gsfc.gcn/SWIFT#XRT_Pos_655721-326" in out
    assert "Stream:   nasa.gsfc.gcn/SWIFT" in out
    assert "Position: RA 319.65880° Dec -34.91310° ± 0.001° (UTC-FK5-GEO)" in out
    assert "Time:     2015-09-15T21:24:37+00:00" in out
    assert "Cites:    followup ivo://nasa.gsfc.gcn/SWIFT#BAT_GRB_Pos_655721-214" in out
    assert "  TrigID = 655721  [meta.id]" in out
    assert "Group Obs_Support_Info:" in out


def test_show_gaia_time_scale_and_problems() -> None:
    run = vohub("show", str(GAIA))
    assert run.returncode == 0
    assert "Time:     2016-01-16T07:50:59.713069+00:00 (from TCB 2016-01-16T07:52:27)" in run.stdout
    assert "Problem:  time scale TCB from the timescale Param overrides TDB-ICRS-BARY" in run.stdout


def test_show_invalid_but_readable_packet_lists_the_schema_problem() -> None:
    run = vohub("show", str(V11))
    assert run.returncode == 0
    assert "Version: 1.1" in run.stdout
    assert "Problem:  unsupported VOEvent version: no schema for VOEvent 1.1" in run.stdout


def test_show_not_a_voevent_exits_one(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text("<html><body>hello</body></html>")
    run = vohub("show", str(path))
    no_traceback(run)
    assert run.returncode == 1
    assert (
        run.stderr.strip()
        == f"vohub show: {path}: not a VOEvent: root element is <html>, not <VOEvent>"
    )


def show_lines(path: Path | str, stdin: bytes | None = None) -> list[str]:
    run = vohub("show", str(path), stdin=stdin)
    assert run.returncode == 0, run.stderr
    no_traceback(run)
    return run.stdout.splitlines()


def block(lines: list[str], first: str) -> list[str]:
    """The line ``first`` and the indented lines under it."""
    start = lines.index(first)
    end = next(
        (i for i in range(start + 1, len(lines)) if not lines[i].startswith(" ")), len(lines)
    )
    return lines[start:end]


def test_show_why_with_its_own_concept_description_and_an_inference() -> None:
    assert block(show_lines(RAPTOR), "Why:") == [
        "Why:",
        "  Concept: http://ivoat.ivoa.net/process.variation.burst;em.opt",
        "  About: Looks like a SN",
        "  Inference (associated) p=0.99: NGC0931",
    ]


def test_show_why_importance_and_inference_concepts() -> None:
    assert block(show_lines(XRT), "Why:      importance 0.99") == [
        "Why:      importance 0.99",
        "  Inference p=0.9 [process.variation.burst;em.gamma]",
    ]
    assert block(show_lines(JUPITER), "Why:") == [
        "Why:",
        "  Inference p=1: Solar Wind measured at 1 AU  [http://astrothesaurus.org/uat/1534]",
        "  Inference: MHD simulation of propagated Solar Wind at Jupiter"
        "  [http://astrothesaurus.org/uat/1966]",
    ]


def test_show_why_with_only_a_description() -> None:
    assert block(show_lines(GAIA_BSF), "Why:") == [
        "Why:",
        "  About: faint Gaia source towards Galactic Centre gets 2 mags brighter",
    ]


def test_show_table_columns_with_units_then_rows() -> None:
    assert block(show_lines(RAPTOR), "Table (unnamed): 6 rows") == [
        "Table (unnamed): 6 rows",
        "  About: Individual Moduli and Distances for NGC 0931 from NED",
        "  telescope = various",
        "  (m-M) (mag)  err(m-M) (mag)  D (Mpc)  REFCODE",
        "  -----------  --------------  -------  -------------------",
        "  33.16        0.38            51.3     1997ApJS..109..333W",
        "  33.32        0.38            46.1     1997ApJS..109..333W",
        "  33.51        0.48            50.4     2009ApJS..182..474S",
        "  33.55        0.38            51.3     1997ApJS..109..333W",
        "  33.71        0.43            55.2     2009ApJS..182..474S",
        "  34.01        0.80            63.3     1997ApJS..109..333W",
    ]


def test_show_a_large_table_is_cut_short_with_a_count_of_what_was_left_out() -> None:
    raw = RAPTOR.read_bytes()
    start, end = raw.index(b"<TR>"), raw.rindex(b"</TR>") + len(b"</TR>")
    rows = raw[start:end] * 5  # 30 rows
    fields = b"".join(b'<Field name="extra%d"/>' % i for i in range(6))  # 10 columns
    raw = raw[:start] + rows + raw[end:]
    raw = raw.replace(b"<Data>", fields + b"<Data>").replace(
        b"1997ApJS..109..333W", b"1997ApJS..109..333W-and-a-very-long-suffix"
    )
    table = block(show_lines("-", stdin=raw), "Table (unnamed): 30 rows")
    assert table[3].split() == [
        "(m-M)", "(mag)", "err(m-M)", "(mag)", "D", "(Mpc)", "REFCODE",
        "extra0", "extra1", "extra2", "extra3",
    ]  # fmt: skip
    assert len(table) == 3 + 2 + 10 + 1  # heading, About, Param; columns, rule; rows; note
    assert table[5].split() == ["33.16", "0.38", "51.3", "1997ApJS..109..333W-and-a-ver…"]
    assert table[-1] == "  … 20 more rows and 2 more columns not shown"


def test_show_descriptions_are_printed_on_one_line_each() -> None:
    lines = show_lines(JUPITER)
    assert lines[5:8] == [
        "Summary:  3 Solar Pressure pulses predicted at Jupiter between 2018-10-03 and 2018-10-09",
        "About:    Time intervals in which dynamic pressure is greater than 0.08 nPa at Jupiter",
        "Position: Jupiter",
    ]
    assert (
        "How:      This prediction has been computed by the Heliospheric propagation 1D MHD"
        " model for solar wind prediction at planets, probes and comets."
    ) in lines
    assert "  About: Time intervals found by the propagation code" in lines
    assert "Site:" not in "\n".join(lines)  # its ObservatoryLocation has no id
    how = [line for line in show_lines(RAPTOR) if line.startswith("How:")]
    assert how == [
        "How:      This VOEvent packet resulted from observations made with"
        " <a href=http://www.raptor.lanl.gov>Raptor</a> AB at Los Alamos."
    ]
    assert block(show_lines(RAPTOR), "Group magnitude:")[1] == (
        "  About: Time is days since the ref time in the WhereWhen section"
    )


def test_show_observatory_location_and_coordinate_system() -> None:
    lines = show_lines(XRT)
    assert lines[7:11] == [
        "Position: RA 319.65880° Dec -34.91310° ± 0.001° (UTC-FK5-GEO)",
        "Time:     2015-09-15T21:24:37+00:00",
        "Site:     GEOLUN",
        "Where:    The RA,Dec coordinates are of the type: source_object.",
    ]
    assert block(lines, "Group Obs_Support_Info:")[1] == (
        "  About: The Sun and Moon values are valid at the time the VOEvent XML message was"
        " created."
    )
    raw = BAT.read_bytes()  # as LVC packets are: a time and no sky position
    no_position = (
        raw[: raw.index(b"<Position2D")]
        + raw[raw.index(b"</Position2D>") + len(b"</Position2D>") :]
    )
    lines = show_lines("-", stdin=no_position)
    assert not [line for line in lines if line.startswith("Position:")]
    assert lines[7:9] == [
        "Time:     2015-09-15T21:18:24.860000+00:00",
        "Site:     GEOLUN (UTC-FK5-GEO)",
    ]


def test_show_leaves_out_the_sections_a_packet_does_not_have() -> None:
    top_level = [line.split(":")[0] for line in show_lines(ASASSN) if not line.startswith(" ")]
    assert top_level == [
        "IVORN", "Role", "Stream", "Author", "Date", "Who", "Position", "Time", "Site",
        "Group asassn_params", "Group asassn_urls", "How",
    ]  # fmt: skip


def test_ivorn_prints_fresh_unique_ivorns() -> None:
    run = vohub("ivorn", "voevent.4pisky.org/TEST", "-n", "3")
    assert run.returncode == 0
    ivorns = run.stdout.split()
    assert len(set(ivorns)) == 3
    for ivorn in ivorns:
        assert re.fullmatch(
            r"ivo://voevent\.4pisky\.org/TEST#\d{6}-\d{4}\.\d{2}_[0-9a-f]{12}", ivorn
        )
    again = vohub("ivorn", "ivo://voevent.4pisky.org/TEST")
    assert again.stdout.startswith("ivo://voevent.4pisky.org/TEST#")
    assert again.stdout.strip() not in ivorns


def test_ivorn_count_must_be_at_least_one() -> None:
    run = vohub("ivorn", "voevent.4pisky.org/TEST", "-n", "0")
    assert (run.returncode, run.stdout) == (2, "")
    assert "expected a whole number of at least 1, got '0'" in run.stderr


def test_ivorn_refuses_a_bad_stream() -> None:
    run = vohub("ivorn", "not a stream")
    no_traceback(run)
    assert run.returncode == 2
    assert run.stderr.strip() == (
        "vohub ivorn: not a stream: invalid IVORN: not of the form ivo://authority/resource#local_id"
    )


@pytest.mark.parametrize(
    "args",
    [["ivorn", "-n", "100000", "example.org/alerts"], ["validate", *[str(BAT)] * 3000]],
    ids=["ivorn", "validate"],
)
def test_a_reader_that_stops_early_gets_no_traceback(args: list[str]) -> None:
    """``vohub ivorn -n 100000 x | head -1`` printed a BrokenPipeError traceback."""
    with subprocess.Popen(
        [str(VOHUB), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as run:
        out, err = run.stdout, run.stderr
        assert out is not None
        assert err is not None
        out.readline()
        out.close()  # as head does after its line
        errors = err.read()
    assert b"Traceback" not in errors
    assert run.returncode == 1


def test_show_and_validate_a_packet_whose_date_is_out_of_range_in_utc(tmp_path: Path) -> None:
    """Both printed an OverflowError traceback."""
    far = tmp_path / "far.xml"
    far.write_text(
        '<voe:VOEvent xmlns:voe="http://www.ivoa.net/xml/VOEvent/v2.0" version="2.0"'
        ' ivorn="ivo://example.org/far#1" role="test">'
        "<Who><Date>0001-01-01T00:00:00+14:00</Date></Who></voe:VOEvent>"
    )
    show = vohub("show", str(far))
    no_traceback(show)
    assert show.returncode == 0
    assert (
        "Problem:  Who/Date '0001-01-01T00:00:00+14:00' is outside the years 1 to 9999 in UTC;"
        " no author date kept"
    ) in show.stdout
    valid = vohub("validate", str(far))
    no_traceback(valid)
    assert (valid.returncode, valid.stdout) == (0, f"OK {far} ivo://example.org/far#1\n")

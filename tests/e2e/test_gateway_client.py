"""vohub.client and ``vohub query`` against a real gateway and archive holding real packets."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator
from itertools import islice
from pathlib import Path

import httpx
import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import Angle, SkyCoord
from astropy.io.votable import parse_single_table
from astropy.time import Time

from vohub.client import BadRequest, Client, InvalidFilter, LimitTooLarge, PacketNotFound
from vohub.testing.broker import with_ivorn
from vohub.testing.gateway import Stack, ingest, real_packets, start_stack

pytestmark = pytest.mark.e2e

DATA = Path(__file__).resolve().parents[2] / "data"
XRT = "ivo://nasa.gsfc.gcn/SWIFT#XRT_Pos_655721-326"
BAT = "ivo://nasa.gsfc.gcn/SWIFT#BAT_GRB_Pos_655721-214"
SWIFT = "nasa.gsfc.gcn/SWIFT"
ASASSN = "ivo://voevent.4pisky.org/ASASSN#2016-09-25.47_2016fvf_PTSS-16nqb_PS16ejf"
BAT_XML = (DATA / "voevents" / "fourpisky-core" / "BAT_GRB_Pos_558756-820.xml").read_bytes()


class CountingTransport(httpx.HTTPTransport):
    """The real HTTP transport, counting the requests it sends."""

    def __init__(self) -> None:
        super().__init__()
        self.paths: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        return super().handle_request(request)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    logs = tmp_path_factory.mktemp("client")
    stack = start_stack(f"sqlite:///{logs / 'archive.db'}", logs, real_packets(DATA))
    yield stack
    stack.stop()


@pytest.fixture
def client(running: Stack) -> Iterator[Client]:
    with Client(running.url) as archive:
        yield archive


def test_count_with_astropy_cone_and_time(client: Client) -> None:
    cone = (SkyCoord(np.float64(319.7), np.float64(-34.85), unit="deg"), Angle(30 * u.arcmin))
    since = Time("2015-09-15T00:00:00", scale="utc")
    assert client.count(cone=cone, authored_since=since) >= 1
    assert XRT in list(client.ivorns({"cone": cone}, authored_since=since))


def test_packets_iterate_lazily_over_cursor_pages(running: Stack) -> None:
    transport = CountingTransport()
    with Client(running.url, transport=transport) as archive:
        first = list(islice(archive.packets(stream="nasa.gsfc.gcn/SWIFT", page_size=4), 6))
        assert len(first) == 6
        assert transport.paths == ["/apiv2/packets", "/apiv2/packets"]
        every = list(archive.packets(stream="nasa.gsfc.gcn/SWIFT", page_size=50))
        transport.paths.clear()
        ivorns = list(archive.ivorns(stream="nasa.gsfc.gcn/SWIFT", page_size=50))
    assert [p.ivorn for p in every[:6]] == [p.ivorn for p in first]
    assert (
        len(every) == len({p.ivorn for p in every}) == archive_count(running, "nasa.gsfc.gcn/SWIFT")
    )
    assert ivorns == [p.ivorn for p in every]  # IVORNs alone, from the lighter list
    assert set(transport.paths) == {"/apiv2/ivorns"}


def archive_count(running: Stack, stream: str) -> int:
    with Client(running.url, api="v1") as v1:
        return v1.count(stream=stream)


def test_synopsis_is_typed_with_citations_both_ways(client: Client) -> None:
    xrt = client.synopsis(XRT)
    assert isinstance(xrt.positions[0].coord, SkyCoord)
    assert xrt.positions[0].coord.ra.deg == pytest.approx(319.6588)
    assert xrt.author_datetime is not None
    assert xrt.author_datetime.isot == "2015-09-15T21:43:50.000"
    assert [r.ivorn for r in xrt.refs] == [BAT]
    assert XRT in client.synopsis(BAT).cited_by


def test_v1_mode_matches_v2(running: Stack, client: Client) -> None:
    with Client(running.url, api="v1") as v1:
        assert v1.count(role="observation") == client.count(role="observation")
        assert v1.synopsis(XRT).ivorn == XRT
        assert v1.xml(ASASSN) == client.xml(ASASSN)
        packets = list(v1.packets(ivorn_prefix=XRT))
        assert [p.refs[0].ivorn for p in packets] == [BAT]
        # apiv1's synopsis lacks cited_by: it was [] ("cited by none") for cited packets
        assert XRT in v1.synopsis(BAT).cited_by  # type: ignore[operator]
        every = {p.ivorn: p.cited_by for p in v1.packets(stream=SWIFT)}
    assert every == {p.ivorn: p.cited_by for p in client.packets(stream=SWIFT)}
    assert any(every.values())
    assert not all(every.values())
    table = {api: vohub_query("packets", "--api", api, "--host", running.url, "--stream", SWIFT,
                              "--format", "csv").stdout for api in ("v1", "v2")}  # fmt: skip
    assert table["v1"] == table["v2"]


def test_a_stream_may_be_given_as_an_ivorn(running: Stack, client: Client) -> None:
    swift = client.count(stream="nasa.gsfc.gcn/SWIFT")
    assert swift > 0
    with Client(running.url, api="v1") as v1:
        for api in (client, v1):
            assert api.count(stream="ivo://nasa.gsfc.gcn/SWIFT") == swift
    assert client.count(stream_prefix="IVO://nasa.gsfc.gcn/SWI") == swift
    v2 = httpx.get(f"{running.url}/apiv2/packets/count?stream=ivo://nasa.gsfc.gcn/SWIFT")
    assert v2.json() == {"count": swift}
    v1_raw = httpx.get(f"{running.url}/apiv1/count?stream=ivo://nasa.gsfc.gcn/SWIFT")
    assert v1_raw.json()["result"] == 0  # apiv1 answers as voeventdb does


def test_xml_non_ascii(client: Client) -> None:
    original = next(p.read_bytes() for p in DATA.rglob("ASASSN#2016-09-25*.xml"))
    assert client.xml(ASASSN) == original


def test_maps_and_citation_lists(client: Client) -> None:
    streams = client.map("stream_count")
    assert sum(streams.values()) == client.count()
    assert client.map("stream") == streams  # apiv2's name for it
    assert dict(client.ivorn_nrefs(ivorn_prefix=XRT)) == {XRT: 1}
    assert dict(client.ivorn_ncites(ivorn_prefix=BAT))[BAT] >= 1


def test_lists_and_maps_take_apiv2_filters(running: Stack, client: Client) -> None:
    swift = {"stream_prefix": "nasa.gsfc.gcn/SWI", "event_since": "2015-09-15T21:00:00"}
    ivorns = list(client.ivorns(swift, order="ivorn"))
    assert ivorns == sorted(p.ivorn for p in client.packets(swift))
    assert len(ivorns) == client.count(swift) > 1
    assert XRT in ivorns
    assert dict(client.ivorn_nrefs(swift, ivorn_prefix=XRT)) == {XRT: 1}
    assert dict(client.ivorn_ncites(swift, ivorn_prefix=BAT))[BAT] >= 1
    exact = {"stream": "nasa.gsfc.gcn/SWIFT", "authored_since": "2015-09-15T21:00:00"}
    assert client.map("stream_count", swift) == client.map("stream_count", exact)
    assert client.map("role_count", swift) == client.map("role_count", exact)
    assert client.map("stream_role_count", swift) == client.map("stream_role_count", exact)
    assert client.map("authored_month_count", swift) == client.map("authored_month_count", exact)
    listed = vohub_query("list", "--host", running.url, "--stream-prefix", "nasa.gsfc.gcn/SWI",
                         "--event-since", "2015-09-15T21:00:00", "--order", "ivorn",
                         "--format", "csv")  # fmt: skip
    assert listed.stdout.splitlines() == ["ivorn", *ivorns]


def test_citation_network_walks_past_packets_the_archive_lacks(client: Client) -> None:
    archived = set(client.ivorns())
    citing = client.packets(ref_any=True)
    dangling = next(s for s in citing if any(r.ivorn not in archived for r in s.refs))
    network = client.citation_network(dangling.ivorn)  # voeventdb.remote raises HTTPError 422
    assert all(dangling.ivorn in network[r.ivorn] for r in dangling.refs)
    assert client.citation_network(XRT, max_depth=0) == {BAT: {XRT}}
    with pytest.raises(PacketNotFound):
        client.citation_network("ivo://nasa.gsfc.gcn/SWIFT#no-such-packet")
    with pytest.raises(InvalidFilter, match="max_depth"):
        client.citation_network(XRT, max_depth=-1)


def test_table_formats(client: Client) -> None:
    votable = parse_single_table(io.BytesIO(client.table(fmt="votable", limit=5).encode()))
    assert len(votable.to_table()) == 5
    csv_text = client.table(fmt="csv", stream_prefix="nasa.gsfc.gcn/", limit=3)
    assert csv_text.splitlines()[0].startswith("ivorn,stream,role")


def test_errors_name_the_culprit(client: Client) -> None:
    with pytest.raises(BadRequest) as bad:
        client.count(authored_since="yesterday")
    assert bad.value.parameter == "authored_since"
    with pytest.raises(PacketNotFound, match="ivo://no/such#1"):
        client.synopsis("ivo://no/such#1")
    with pytest.raises(LimitTooLarge):
        client.table(limit=20000)


#: The two commands that run a query, as argv after the interpreter.
ENTRY_POINTS = {
    "python -m vohub.client": ["-m", "vohub.client"],
    "vohub query": ["-m", "vohub.cli", "query"],
}


def run_query(entry: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *entry, *args],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def vohub_query(*args: str) -> subprocess.CompletedProcess[str]:
    return run_query(ENTRY_POINTS["vohub query"], *args)


def test_query_cli_formats(running: Stack, client: Client) -> None:
    swift = client.count(stream="nasa.gsfc.gcn/SWIFT", cone=(319.7, -34.85, 5.0))
    args = ["--host", running.url, "--stream", "nasa.gsfc.gcn/SWIFT", "--cone", "319.7,-34.85,5"]
    assert json.loads(vohub_query("count", *args, "--format", "json").stdout) == {"count": swift}
    assert vohub_query("count", *args, "--format", "csv").stdout == f"count\n{swift}\n"
    units = [*args[:-1], "21h18m48s,-34d51m,5d"]
    assert vohub_query("count", *units, "--format", "csv").stdout == f"count\n{swift}\n"
    table = vohub_query("packets", *args, "--since", "2015-09-01").stdout.splitlines()
    assert table[0].split() == ["ivorn", "role", "author_datetime", "ra", "dec", "error",
                                "cited_by"]  # fmt: skip
    assert any(line.startswith(XRT) for line in table[2:])
    roles = vohub_query("map", "role", "--host", running.url, "--format", "json").stdout
    assert json.loads(roles) == client.map("role_count")
    bat = vohub_query("synopsis", BAT, "--host", running.url, "--format", "csv").stdout
    assert f"cited_by,{XRT}" in bat.splitlines()
    for flags_first in (  # flags before the IVORN, or before the sub-command
        ["synopsis", "--host", running.url, "--format", "csv", BAT],
        ["--host", running.url, "--format", "csv", "synopsis", BAT],
    ):
        assert vohub_query(*flags_first).stdout == bat
    roles_first = vohub_query("map", "--role", "test", "--host", running.url, "role").stdout
    assert roles_first.splitlines()[2:] == [f"test  {client.count(role='test')}"]
    xrt = vohub_query("synopsis", XRT, "--host", running.url).stdout.splitlines()
    assert xrt[0].split() == ["field", "value"]
    assert [line.split() for line in xrt if line.startswith("refs")] == [["refs", BAT]]


def test_query_cli_says_when_max_cut_the_list(running: Stack, client: Client) -> None:
    swift = client.count(stream="nasa.gsfc.gcn/SWIFT")
    args = ["--host", running.url, "--stream", "nasa.gsfc.gcn/SWIFT", "--format", "csv"]
    cut = vohub_query("list", *args, "--max", str(swift - 1))
    assert len(cut.stdout.splitlines()) == swift  # the header and swift - 1 IVORNs
    assert f"showing the first {swift - 1}; more match (--max 0 shows all)" in cut.stderr
    for whole in (vohub_query("packets", *args, "--max", str(swift)), vohub_query("list", *args)):
        assert len(whole.stdout.splitlines()) == swift + 1
        assert whole.stderr == ""


def test_query_cli_citations(running: Stack, client: Client) -> None:
    network = client.citation_network(BAT)
    answer = vohub_query("citations", BAT, "--host", running.url, "--format", "json")
    assert json.loads(answer.stdout) == {cited: sorted(by) for cited, by in network.items()}
    rows = vohub_query("citations", XRT, "--host", running.url, "--depth", "0", "--format", "csv")
    assert rows.stdout == f"cited,cited_by\n{BAT},{XRT}\n"


def test_query_cli_takes_values_starting_with_a_dash(running: Stack) -> None:
    args = ["--host", running.url, "--stream", "nasa.gsfc.gcn/SWIFT", "--format", "csv"]
    ascending = vohub_query("list", *args, "--order", "ivorn").stdout.splitlines()
    descending = vohub_query("list", *args, "--order", "-ivorn")
    assert descending.returncode == 0, descending.stderr
    assert descending.stdout.splitlines()[1:] == ascending[:0:-1]
    west = vohub_query("count", "--host", running.url, "--cone", "-40.3,-34.85,5")
    assert west.returncode == 0, west.stderr
    assert (
        west.stdout
        == vohub_query("count", "--host", running.url, "--cone", "319.7,-34.85,5").stdout
    )


def test_query_cli_errors(running: Stack) -> None:
    for since in ("yesterday", "2016-13-01"):  # refused by the server: still bad input, 2
        bad = vohub_query("count", "--host", running.url, "--since", since)
        assert bad.returncode == 2
        assert "authored_since" in bad.stderr
    hours = vohub_query("count", "--host", running.url, "--cone", "21:18:48,-34.85,5")
    assert hours.returncode == 2
    assert "cone: '21:18:48' is not an angle: give degrees, or units as in" in hours.stderr
    missing = vohub_query("xml", "ivo://no/such#1", "--host", running.url)
    assert missing.returncode == 1
    assert "404" in missing.stderr


def test_synopses_of_overlapping_queries_make_one_set(client: Client) -> None:
    swift = list(client.packets(stream=SWIFT))
    nearby = list(client.packets(cone=(319.7, -34.85, 5.0)))
    overlap = {s.ivorn for s in swift} & {s.ivorn for s in nearby}
    assert overlap  # the queries share packets, so there is something to de-duplicate
    union = set(swift) | set(nearby)
    assert sorted(s.ivorn for s in union) == sorted({s.ivorn for s in swift + nearby})
    seen = {s: s.ivorn for s in swift}
    assert all(seen[s] == s.ivorn for s in nearby if s.ivorn in overlap)
    xrt = client.synopsis(XRT)
    assert xrt in union
    assert hash(xrt) == hash(client.synopsis(XRT))


@pytest.mark.parametrize("entry", ENTRY_POINTS.values(), ids=ENTRY_POINTS.keys())
def test_values_may_start_with_a_dash(running: Stack, client: Client, entry: list[str]) -> None:
    """``--order -ivorn`` failed with "expected one argument" from ``python -m vohub.client``."""
    args = ["--host", running.url, "--format", "csv"]
    ascending = list(client.ivorns(stream=SWIFT, order="ivorn"))
    assert len(ascending) > 1
    for order in (["--order", "-ivorn"], ["--order=-ivorn"]):
        descending = run_query(entry, "list", "--stream", SWIFT, *args, *order)
        assert descending.returncode == 0, descending.stderr
        assert descending.stdout.splitlines() == ["ivorn", *reversed(ascending)]
    east = client.count(cone=(319.7, -34.85, 5.0))
    assert east > 0
    for cone in (["--cone", "-40.3,-34.85,5"], ["--cone=-40.3,-34.85,5"]):
        west = run_query(entry, "count", *args, *cone)
        assert west.returncode == 0, west.stderr
        assert west.stdout == f"count\n{east}\n"
    south = run_query(entry, "count", *args, "--dec-lt", "-30")
    assert south.stdout == f"count\n{client.count(dec_lt=-30)}\n"


@pytest.mark.parametrize("entry", ENTRY_POINTS.values(), ids=ENTRY_POINTS.keys())
def test_a_dash_value_that_is_no_order_or_an_option_is_a_usage_error(
    running: Stack, entry: list[str]
) -> None:
    unknown = run_query(entry, "list", "--host", running.url, "--order", "-idd")
    assert unknown.returncode == 2
    assert "argument --order: invalid choice: '-idd' (choose from 'id', '-id'," in unknown.stderr
    missing = run_query(entry, "list", "--host", running.url, "--order", "--max", "3")
    assert missing.returncode == 2
    assert "argument --order: expected one argument" in missing.stderr


def test_citation_counts_agree_with_apiv1_and_follow_cursors(running: Stack) -> None:
    transport = CountingTransport()
    with Client(running.url, transport=transport) as v2, Client(running.url, api="v1") as v1:
        nrefs = list(v2.ivorn_nrefs(stream=SWIFT, page_size=7))
        ncites = list(v2.ivorn_ncites(stream=SWIFT, page_size=7))
        assert nrefs == list(v1.ivorn_nrefs(stream=SWIFT))
        assert ncites == list(v1.ivorn_ncites(stream=SWIFT))
    assert len(nrefs) > 7
    assert any(n for _, n in nrefs)
    assert any(n for _, n in ncites)
    # cursor pages of IVORNs with their counts, not apiv1 offset pages nor full synopses
    assert set(transport.paths) == {"/apiv2/ivorns/n_refs", "/apiv2/ivorns/n_cited_by"}


@pytest.mark.parametrize("kind", ["ivorns", "ivorn_nrefs", "ivorn_ncites"])
def test_lists_neither_skip_nor_repeat_while_packets_arrive(
    running: Stack, client: Client, kind: str
) -> None:
    """New packets sorting first (order -id) shifted offset pages: some IVORNs came twice and
    as many were never listed. Cursor pages carry on from the last packet seen. (Last in this
    module: it adds packets to the shared archive.)"""
    streams = ["nasa.gsfc.gcn/SWIFT", "vohub.test/late"]
    rows = getattr(client, kind)
    before = list(rows(stream=streams, order="-id"))
    listed = []
    for number, row in enumerate(rows(stream=streams, order="-id", page_size=3)):
        listed.append(row)
        if number == 0:
            late = [with_ivorn(BAT_XML, f"ivo://vohub.test/late#{kind}{i}") for i in range(5)]
            assert ingest(running.archive.address, late) == ["STORED"] * 5
    assert listed == before

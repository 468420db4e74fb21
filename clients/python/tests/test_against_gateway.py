"""The client and its command line against a real gateway (gunicorn) and archive."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from vohub.client import Client
from vohub.testing.broker import with_ivorn
from vohub.testing.gateway import Stack, ingest, real_packets, start_stack

pytestmark = pytest.mark.e2e

DATA = Path(__file__).resolve().parents[3] / "data"
SWIFT = "nasa.gsfc.gcn/SWIFT"
XRT = "ivo://nasa.gsfc.gcn/SWIFT#XRT_Pos_655721-326"
BAT_XML = (DATA / "voevents" / "fourpisky-core" / "BAT_GRB_Pos_558756-820.xml").read_bytes()
#: The two commands that run a query, as argv after the interpreter.
ENTRY_POINTS = {
    "python -m vohub.client": ["-m", "vohub.client"],
    "vohub query": ["-m", "vohub.cli", "query"],
}


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


def run_query(entry: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *entry, *args],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


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


class CountingTransport(httpx.HTTPTransport):
    """The real HTTP transport, noting the path of each request it sends."""

    def __init__(self) -> None:
        super().__init__()
        self.paths: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        return super().handle_request(request)


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


def test_citation_counts_neither_skip_nor_repeat_while_packets_arrive(
    running: Stack, client: Client
) -> None:
    """Offset pages (apiv1's lists) shift when new packets sort first. (Last in this module:
    it adds packets to the shared archive.)"""
    streams = [SWIFT, "vohub.test/late"]
    for counts in (client.ivorn_nrefs, client.ivorn_ncites):
        before = list(counts(stream=streams, order="-id"))
        listed = []
        for number, row in enumerate(counts(stream=streams, order="-id", page_size=3)):
            listed.append(row)
            if number == 0:
                late = [with_ivorn(BAT_XML, f"ivo://vohub.test/late#{counts.__name__}{i}")
                        for i in range(5)]  # fmt: skip
                assert ingest(running.archive.address, late) == ["STORED"] * 5
        assert listed == before

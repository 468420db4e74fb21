"""The unmodified voeventdb.remote 1.1.0 against a real gunicorn gateway and a real archive.

One archive (SQLite, then PostgreSQL + q3c) is loaded through gRPC Ingest with the real packets
under data/ (the loose samples and the 2020-06 dump), plus packets whose IVORNs hold ``#``,
spaces, ``+`` and non-ASCII text; then every voeventdb.remote function is run through
``vohub gateway``. Expected values come from parsing the same files here, independently.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pytest
import requests
import voeventdb.remote as vr
import voeventdb.remote.apiv1 as apiv1
from astropy import units as u
from astropy.coordinates import Angle, SkyCoord
from lxml import etree
from voeventdb.remote.apiv1 import FilterKeys, OrderValues
from voeventdb.remote.apiv1.convenience import citation_network_map
from voeventdb.remote.helpers import Synopsis

from vohub.client import Client
from vohub.testing.gateway import real_packets, start_stack

pytestmark = [pytest.mark.e2e, pytest.mark.interop]

DATA = Path(__file__).resolve().parents[2] / "data"
XRT = "ivo://nasa.gsfc.gcn/SWIFT#XRT_Pos_655721-326"
BAT = "ivo://nasa.gsfc.gcn/SWIFT#BAT_GRB_Pos_655721-214"
ASASSN = "ivo://voevent.4pisky.org/ASASSN#2016-09-25.47_2016fvf_PTSS-16nqb_PS16ejf"
ODD = [
    "ivo://vohub.test/odd#pkt 1+2",
    "ivo://vohub.test/odd#é+ü/x y",
    "ivo://vohub.test/odd#100%_x",
]


def odd_packet(ivorn: str) -> bytes:
    """A minimal valid VOEvent 2.0 packet with an awkward IVORN and a non-ASCII description."""
    escaped = ivorn.replace("&", "&amp;")
    return (
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        '<voe:VOEvent xmlns:voe="http://www.ivoa.net/xml/VOEvent/v2.0" '
        f'ivorn="{escaped}" role="test" version="2.0">'
        "<Who><AuthorIVORN>ivo://vohub.test/author</AuthorIVORN>"
        "<Date>2020-06-15T12:00:00</Date></Who>"
        "<What><Description>Ångström, naïve, 東京</Description></What></voe:VOEvent>"
    ).encode()


TWO = "ivo://vohub.test/odd#two-positions"


def two_position_packet() -> bytes:
    """A packet with two positions, both inside one small cone, citing the Swift BAT packet."""
    where = "".join(
        "<ObsDataLocation><ObservatoryLocation id='GEOLUN'/><ObservationLocation>"
        "<AstroCoordSystem id='UTC-ICRS-TOPO'/><AstroCoords coord_system_id='UTC-ICRS-TOPO'>"
        "<Time unit='s'><TimeInstant><ISOTime>2020-06-15T11:00:00</ISOTime></TimeInstant></Time>"
        f"<Position2D unit='deg'><Name1>RA</Name1><Name2>Dec</Name2><Value2><C1>{ra}</C1>"
        f"<C2>{dec}</C2></Value2><Error2Radius>0.1</Error2Radius></Position2D></AstroCoords>"
        "</ObservationLocation></ObsDataLocation>"
        for ra, dec in ((10.0, 20.0), (10.2, 20.1))
    )
    return (
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        '<voe:VOEvent xmlns:voe="http://www.ivoa.net/xml/VOEvent/v2.0" '
        f'ivorn="{TWO}" role="observation" version="2.0">'
        "<Who><AuthorIVORN>ivo://vohub.test/author</AuthorIVORN>"
        "<Date>2020-06-15T12:00:00</Date></Who>"
        f"<WhereWhen>{where}</WhereWhen>"
        f"<Citations><EventIVORN cite='followup'>{BAT}</EventIVORN></Citations></voe:VOEvent>"
    ).encode()


@dataclass
class Stack:
    url: str
    packets: dict[str, bytes]  # stored IVORN -> bytes, in ingest order
    streams: Counter[str]
    roles: Counter[str]


def _oracle(blobs: list[bytes], outcomes: list[str]) -> dict[str, bytes]:
    stored: dict[str, bytes] = {}
    for blob, outcome in zip(blobs, outcomes, strict=True):
        if outcome == "STORED":
            root = etree.fromstring(blob, etree.XMLParser(resolve_entities=False))
            stored[root.get("ivorn")] = blob
    return stored


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    logs = tmp_path_factory.mktemp(f"remote-{request.param}")
    if request.param == "sqlite":
        db = f"sqlite:///{logs / 'archive.db'}"
    else:
        db = request.getfixturevalue("postgres_databases")("gateway_remote")
    blobs = [*real_packets(DATA), *(odd_packet(i) for i in ODD), two_position_packet()]
    running = start_stack(db, logs, blobs)
    try:
        packets = _oracle(blobs, running.outcomes)
        roots = [etree.fromstring(b) for b in packets.values()]
        streams = Counter(r.get("ivorn")[6:].split("#")[0] for r in roots)
        roles = Counter(r.get("role") for r in roots)
        saved = vr.default_host
        vr.default_host = running.url
        yield Stack(running.url, packets, streams, roles)
        vr.default_host = saved
    finally:
        running.stop()


def test_every_sample_and_dump_packet_is_stored(stack: Stack) -> None:
    assert XRT in stack.packets
    assert ASASSN in stack.packets
    assert set(ODD) <= set(stack.packets)
    assert len(stack.packets) > 300


def test_count_all_and_by_stream_and_role(stack: Stack) -> None:
    assert apiv1.count() == len(stack.packets)
    swift = "nasa.gsfc.gcn/SWIFT"
    assert apiv1.count({FilterKeys.stream: swift}) == stack.streams[swift]
    both = {FilterKeys.role: ["test", "utility"]}
    assert apiv1.count(both) == stack.roles["test"] + stack.roles["utility"]


def test_list_ivorn_pages_in_insertion_order(stack: Stack) -> None:
    listed = apiv1.list_ivorn(order=OrderValues.id, pagesize=37, n_max=0)
    assert listed == list(stack.packets)
    assert apiv1.list_ivorn(n_max=5) == list(stack.packets)[:5]
    newest_first = apiv1.list_ivorn(order=OrderValues.id_desc, pagesize=50, n_max=0)
    assert newest_first == list(reversed(stack.packets))


def test_citation_counts(stack: Stack) -> None:
    nrefs = dict(apiv1.list_ivorn_nrefs(filters={FilterKeys.ivorn_prefix: XRT}))
    assert nrefs == {XRT: 1}
    ncites = dict(apiv1.list_ivorn_ncites(filters={FilterKeys.stream: "nasa.gsfc.gcn/SWIFT"},
                                          n_max=0))  # fmt: skip
    assert ncites[BAT] >= 1
    assert len(ncites) == stack.streams["nasa.gsfc.gcn/SWIFT"]


def test_maps_match_the_packets(stack: Stack) -> None:
    assert apiv1.map_stream_count() == dict(stack.streams)
    assert apiv1.map_role_count() == dict(stack.roles)
    nested = apiv1.map_stream_role_count()
    assert sum(n for roles in nested.values() for n in roles.values()) == len(stack.packets)
    months = apiv1.map_authored_month_count()
    assert sum(months.values()) == len(stack.packets)
    assert months["2020-06"] >= 294 // 2


def test_synopsis_through_the_remote_helpers(stack: Stack) -> None:
    synopsis = Synopsis(apiv1.packet_synopsis(XRT))
    assert synopsis.ivorn == XRT
    assert synopsis.stream == "nasa.gsfc.gcn/SWIFT"
    assert synopsis.author_datetime == datetime.fromisoformat("2015-09-15T21:43:50+00:00")
    assert synopsis.coords[0].ra.deg == pytest.approx(319.6588)
    assert synopsis.sky_events[0].position_error.deg == pytest.approx(0.001, rel=0.2)
    assert synopsis.references[0]["ref_ivorn"] == BAT


def test_xml_bytes_including_non_ascii(stack: Stack) -> None:
    assert apiv1.packet_xml(ASASSN) == stack.packets[ASASSN]
    assert apiv1.packet_xml(XRT) == stack.packets[XRT]


@pytest.mark.parametrize("ivorn", ODD)
def test_awkward_ivorns(stack: Stack, ivorn: str) -> None:
    assert apiv1.packet_xml(ivorn) == stack.packets[ivorn]
    assert apiv1.packet_synopsis(ivorn)["voevent"]["ivorn"] == ivorn
    assert apiv1.list_ivorn({FilterKeys.ivorn_contains: ivorn[-5:]}) == [ivorn]


def test_like_wildcards_are_literal(stack: Stack) -> None:
    assert apiv1.list_ivorn({FilterKeys.ivorn_contains: "100%_"}) == [ODD[2]]
    assert apiv1.count({FilterKeys.ivorn_contains: "_"}) < len(stack.packets)


def test_multi_position_packet_counted_once(stack: Stack) -> None:
    cone = {FilterKeys.cone: (10.1, 20.05, 1.0)}
    assert apiv1.count(cone) == 1
    assert apiv1.list_ivorn(cone) == [TWO]
    assert apiv1.list_ivorn_nrefs(cone) == [[TWO, 1]]
    assert len(apiv1.packet_synopsis(TWO)["coords"]) == 2
    assert apiv1.map_stream_count(cone) == {"vohub.test/odd": 1}


def test_role_prediction_accepted(stack: Stack) -> None:
    assert apiv1.count({FilterKeys.role: "prediction"}) == stack.roles["prediction"] >= 1


def test_unknown_ivorn_is_422(stack: Stack) -> None:
    with pytest.raises(requests.HTTPError, match="422"):
        apiv1.packet_synopsis("ivo://no.such/packet#1")


def test_cone_from_astropy_with_numpy2_floats(stack: Stack) -> None:
    centre = SkyCoord(np.float64(319.7) * u.deg, np.float64(-34.85) * u.deg)
    cone = (centre, Angle(np.float64(0.5), u.deg))
    found = apiv1.list_ivorn({FilterKeys.cone: cone}, n_max=0)
    assert XRT in found
    assert len(found) == len(set(found)) == apiv1.count({FilterKeys.cone: cone})


@pytest.mark.parametrize(
    "filters",
    [
        {FilterKeys.cone: (10.0, -30.0, 60.0)},
        {FilterKeys.dec_greater_than: 0.0, FilterKeys.dec_less_than: 60.0},
        {FilterKeys.ref_any: True},
        {FilterKeys.cited: True},
        {FilterKeys.coord: False},
        {FilterKeys.authored_since: datetime(2016, 1, 1), FilterKeys.role: "observation"},
        {FilterKeys.authored_until: datetime(2015, 12, 31, 23, 59, 59)},
        {FilterKeys.ivorn_prefix: ["ivo://gaia.cam.uk", "ivo://voevent.4pisky.org"]},
        {FilterKeys.ref_contains: "SWIFT"},
        {FilterKeys.ref_exact: BAT},
    ],
)
def test_count_equals_list_length(stack: Stack, filters: dict[str, Any]) -> None:
    listed = apiv1.list_ivorn(filters, pagesize=40, n_max=0)
    assert len(listed) == len(set(listed)) == apiv1.count(filters)
    nrefs = apiv1.list_ivorn_nrefs(filters, pagesize=40, n_max=0)
    assert [row[0] for row in nrefs] == listed


def test_citation_network_map(stack: Stack) -> None:
    network = citation_network_map(BAT)
    assert XRT in network[BAT]
    assert TWO in network[BAT]


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_vohub_client_maps_citations_as_voeventdb_remote_does(
    stack: Stack, api: Literal["v1", "v2"]
) -> None:
    with Client(stack.url, api=api) as client:
        for ivorn in (BAT, XRT, TWO):
            assert client.citation_network(ivorn) == citation_network_map(ivorn)


def test_host_with_trailing_slash(stack: Stack) -> None:
    assert apiv1.count(host=stack.url + "/") == len(stack.packets)


def test_endpoint_urls_in_sync(stack: Stack) -> None:
    root = requests.get(stack.url + "/apiv1/", timeout=10).json()
    listed = set(root["endpoints"]) - {apiv1.Endpoints.root}
    client = {v for k, v in vars(apiv1.Endpoints).items() if not k.startswith("_")}
    assert listed == client - {apiv1.Endpoints.root}


def test_bad_filters_are_400_with_the_parameter(stack: Stack) -> None:
    r = requests.get(stack.url + "/apiv1/count", params={"authored_since": "yesterday"}, timeout=10)
    assert r.status_code == 400
    assert r.json()["error"]["parameter"] == "authored_since"
    with pytest.raises(requests.HTTPError, match="400"):
        apiv1.count({"colour": "red"})

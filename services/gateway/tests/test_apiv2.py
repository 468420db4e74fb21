"""apiv2 resources against a fake archive: cursor paging, synopses, tables, errors."""

from __future__ import annotations

import csv
import io
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from astropy.io.votable import parse_single_table

from vohub.v1 import archive_pb2

XRT = "ivo://nasa.gsfc.gcn/SWIFT#XRT_Pos_655721-326"


def page(archive: Any, xrt: Any, cursor: str = "") -> None:
    archive.list_reply = archive_pb2.ListResponse(
        rows=[archive_pb2.ListRow(ivorn=xrt.ivorn, synopsis=xrt)], next_cursor=cursor
    )


def test_list_page_with_cursor(client: Any, archive: Any, xrt: Any) -> None:
    page(archive, xrt, cursor="abc123")
    r = client.simulate_get(
        "/apiv2/packets", query_string="stream_prefix=nasa.gsfc.gcn/&limit=1&role=observation"
    )
    assert r.status_code == 200
    body = r.json
    assert body["limit"] == 1
    assert body["next_cursor"] == "abc123"
    query = parse_qs(urlsplit(body["next"]).query)
    assert query == {
        "stream_prefix": ["nasa.gsfc.gcn/"],
        "limit": ["1"],
        "role": ["observation"],
        "cursor": ["abc123"],
    }
    item = body["items"][0]
    assert item["ivorn"] == XRT
    assert item["received"] == "2026-11-25T02:20:27.961214Z"
    assert item["author_datetime"] == "2015-09-15T21:43:50Z"
    assert item["positions"] == [
        {"ra": 319.6588, "dec": -34.9131, "error": 0.001, "time": "2015-09-15T21:24:37Z"}
    ]
    assert item["refs"][0]["ivorn"] == "ivo://nasa.gsfc.gcn/SWIFT#BAT_GRB_Pos_655721-214"
    assert item["cited_by"] == ["ivo://example.org/later#1"]
    sent = archive.requests[0]
    assert (sent.kind, sent.limit, list(sent.filter.stream_prefix)) == (
        archive_pb2.ListRequest.SYNOPSIS,
        1,
        ["nasa.gsfc.gcn/"],
    )


def test_ivorn_pages_are_light_and_carry_the_cursor(client: Any, archive: Any) -> None:
    archive.list_reply = archive_pb2.ListResponse(ivorns=[XRT], next_cursor="abc123")
    r = client.simulate_get(
        "/apiv2/ivorns", query_string="stream=ivo://nasa.gsfc.gcn/SWIFT&limit=1"
    )
    assert r.json["items"] == [XRT]
    assert r.json["next_cursor"] == "abc123"
    assert parse_qs(urlsplit(r.json["next"]).query)["cursor"] == ["abc123"]
    sent = archive.requests[0]
    assert (sent.kind, sent.limit, list(sent.filter.stream)) == (
        archive_pb2.ListRequest.IVORN,
        1,
        ["nasa.gsfc.gcn/SWIFT"],
    )
    assert client.simulate_get("/apiv2/ivorns", query_string="format=csv").status_code == 400


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/apiv2/ivorns/n_refs", archive_pb2.ListRequest.IVORN_NREFS),
        ("/apiv2/ivorns/n_cited_by", archive_pb2.ListRequest.IVORN_NCITES),
    ],
)
def test_ivorns_with_a_count_page_by_cursor(
    client: Any, archive: Any, path: str, kind: int
) -> None:
    name = path.rsplit("/", 1)[1]
    archive.list_reply = archive_pb2.ListResponse(
        rows=[archive_pb2.ListRow(ivorn=XRT, count=2)], next_cursor="abc123"
    )
    r = client.simulate_get(path, query_string="stream=nasa.gsfc.gcn/SWIFT&limit=1&order=-id")
    assert r.json["items"] == [{"ivorn": XRT, name: 2}]
    assert parse_qs(urlsplit(r.json["next"]).query)["cursor"] == ["abc123"]
    sent = archive.requests[0]
    assert (sent.kind, sent.limit, sent.order) == (kind, 1, archive_pb2.ORDER_ID_DESC)
    assert client.simulate_get(path, query_string="format=csv").status_code == 400


def test_last_page_has_no_next(client: Any, archive: Any, xrt: Any) -> None:
    page(archive, xrt)
    body = client.simulate_get("/apiv2/packets", query_string="cursor=abc").json
    assert body["next"] is None
    assert body["next_cursor"] is None
    assert archive.requests[0].cursor == "abc"


def test_csv_table(client: Any, archive: Any, xrt: Any) -> None:
    page(archive, xrt, cursor="c2")
    r = client.simulate_get("/apiv2/packets", query_string="format=csv")
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert "cursor=c2" in r.headers["link"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert rows[0]["ivorn"] == XRT
    assert (rows[0]["ra"], rows[0]["n_refs"], rows[0]["n_cited_by"]) == ("319.6588", "1", "1")


def test_votable_parses_with_astropy(client: Any, archive: Any, xrt: Any) -> None:
    page(archive, xrt)
    r = client.simulate_get("/apiv2/packets", query_string="format=votable")
    assert r.headers["content-type"].startswith("application/x-votable+xml")
    table = parse_single_table(io.BytesIO(r.content)).to_table()
    assert table["ivorn"][0] == XRT
    assert table["ra"].unit == "deg"
    assert float(table["dec"][0]) == pytest.approx(-34.9131)


def test_count_and_event_time_filter(client: Any, archive: Any) -> None:
    archive.count_reply = 7
    r = client.simulate_get("/apiv2/packets/count", query_string="event_since=2015-09-15")
    assert r.json == {"count": 7}
    assert archive.requests[0].filter.event_since.ToJsonString() == "2015-09-15T00:00:00Z"


def test_packet_and_xml(client: Any, archive: Any, xrt: Any) -> None:
    archive.packets[XRT] = xrt
    archive.xml[XRT] = b"<voe:VOEvent/>"
    assert client.simulate_get("/apiv2/packet", params={"ivorn": XRT}).json["ivorn"] == XRT
    r = client.simulate_get("/apiv2/packet/xml", params={"ivorn": XRT})
    assert r.content == b"<voe:VOEvent/>"
    missing = client.simulate_get("/apiv2/packet", params={"ivorn": "ivo://no/such#x"})
    assert missing.status_code == 404
    assert missing.json["error"]["parameter"] == "ivorn"
    assert missing.headers["cache-control"] == "no-store"  # it may be archived a second later


@pytest.mark.parametrize(
    ("path", "query", "status", "parameter"),
    [
        ("/apiv2/packet", "", 400, "ivorn"),
        ("/apiv2/packet", "ivorn=a&ivorn=b", 400, "ivorn"),
        ("/apiv2/packet", "ivorn=a&x=1", 400, "x"),
        ("/apiv2/packets", "format=xls", 400, "format"),
        ("/apiv2/packets", "limit=1&limit=2", 400, "limit"),
        ("/apiv2/packets", "limit=20000", 413, "limit"),
        ("/apiv2/packets", "offset=3", 400, "offset"),
        ("/apiv2/packets", "cursor=" + "c" * 5000, 400, "cursor"),
        ("/apiv2/maps/stream", "limit=3", 400, "limit"),
        # a one-value filter given twice: apiv1 keeps the first (voeventdb), apiv2 refuses
        ("/apiv2/packets/count", "cited=true&cited=false", 400, "cited"),
        ("/apiv2/packets", "cone=[1,2,3]&cone=[4,5,6]", 400, "cone"),
        ("/apiv2/maps/role", "event_since=2015&event_since=2016", 400, "event_since"),
    ],
)
def test_v2_errors(client: Any, path: str, query: str, status: int, parameter: str) -> None:
    r = client.simulate_get(path, query_string=query)
    assert r.status_code == status
    assert r.json["error"]["parameter"] == parameter


def test_maps(client: Any, archive: Any) -> None:
    archive.map_reply = archive_pb2.MapResponse(
        entries=[archive_pb2.MapEntry(key="2015-01", count=5), archive_pb2.MapEntry(count=1)]
    )
    r = client.simulate_get("/apiv2/maps/authored_month")
    assert r.json == {
        "kind": "authored_month",
        "entries": [{"key": "2015-01", "count": 5}, {"key": None, "count": 1}],
    }
    r = client.simulate_get("/apiv2/maps/authored_month", query_string="format=csv")
    assert r.text == "key,subkey,count\n2015-01,,5\n,,1\n"
    r = client.simulate_get("/apiv2/maps/bogus")
    assert r.status_code == 404
    assert r.json["error"]["parameter"] == "kind"
    assert r.json["error"]["message"] == (
        "no map 'bogus'; the maps are stream, role, stream_role, authored_month"
    )


def test_openapi_document(client: Any) -> None:
    doc = client.simulate_get("/openapi.json").json
    assert doc["openapi"].startswith("3.")
    expected = {"/apiv1/count", "/apiv2/packets", "/apiv2/ivorns", "/apiv2/ivorns/n_refs",
                "/apiv2/ivorns/n_cited_by", "/apiv2/maps/{kind}", "/healthz"}  # fmt: skip
    assert expected <= set(doc["paths"])
    names = {p["name"] for p in doc["paths"]["/apiv1/count"]["get"]["parameters"]}
    assert len(names) == 14
    listed = doc["paths"]["/apiv2/packets"]["get"]["responses"]["200"]
    assert 'rel="next"' in listed["headers"]["Link"]["description"]  # how tables page


@pytest.mark.parametrize(
    ("path", "query", "location"),
    [("/apiv2/", "", "/apiv2"), ("/apiv2/", "x=1", "/apiv2?x=1"), ("//apiv2/", "", "/apiv2")],
)
def test_the_apiv2_root_with_a_slash_redirects_to_it(
    client: Any, path: str, query: str, location: str
) -> None:
    """/apiv1 redirects to /apiv1/, but /apiv2/ was a 404 where /apiv2 answered."""
    r = client.simulate_get(path, query_string=query)
    assert (r.status_code, r.headers["location"]) == (308, location)
    assert client.simulate_get("/apiv2").json["api_version"] == "apiv2"


def test_root_is_the_landing_page(client: Any) -> None:
    root = client.simulate_get("/")
    assert root.status_code == 200
    assert root.headers["content-type"].startswith("text/html")
    assert root.text == client.simulate_get("/docs").text
    assert all(f"href='{path}'" in root.text for path in ("/apiv1/", "/apiv2", "/openapi.json"))


def test_health_and_metrics(client: Any, archive: Any) -> None:
    assert client.simulate_get("/healthz").json == {"status": "ok", "archive": "SERVING"}
    archive.health = (False, "UNAVAILABLE: refused")
    down = client.simulate_get("/healthz")
    assert down.status_code == 503
    assert down.headers["retry-after"] == "5"
    assert down.headers["cache-control"] == "no-store"  # as every other error answer
    assert client.simulate_get("/healthz").headers["cache-control"] == "no-store"
    metrics = client.simulate_get("/metrics").text
    assert 'vohub_gateway_requests_total{method="GET",route="/healthz",status="200"}' in metrics


def test_metrics_count_invented_methods_as_other(client: Any) -> None:
    for method in ("BREW", "BREW2", "PROPFIND"):
        client.simulate_request(method, "/apiv1/count")
    metrics = client.simulate_get("/metrics").text
    assert "BREW" not in metrics
    assert "PROPFIND" not in metrics
    other = 'vohub_gateway_requests_total{method="OTHER",route="/apiv1/count",status="400"}'
    assert other in metrics

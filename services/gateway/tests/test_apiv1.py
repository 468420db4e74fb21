"""apiv1 resources against a fake archive: requests built, envelopes rendered, errors mapped."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote_plus

import falcon.testing
import pytest

from vohub.gateway.app import create_app
from vohub.gateway.config import GatewayConfig
from vohub.gateway.errors import (
    ArchiveFailure,
    ArchiveInvalidArgument,
    ArchiveTimedOut,
    ArchiveUnavailable,
)
from vohub.v1 import archive_pb2

XRT = "ivo://nasa.gsfc.gcn/SWIFT#XRT_Pos_655721-326"


def test_count_envelope(client: Any, archive: Any) -> None:
    archive.count_reply = 10
    r = client.simulate_get("/apiv1/count", query_string="role=test&role=utility")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.text.startswith('{"endpoint":"/apiv1/count","querystring":{"role":["test","utility"]}')
    assert r.json["result"] == 10
    assert r.json["url"] == "http://falconframework.org/apiv1/count?role=test&role=utility"
    assert list(archive.requests[0].filter.role) == [archive_pb2.TEST, archive_pb2.UTILITY]


def test_count_ignores_paging_keys_unvalidated(client: Any, archive: Any) -> None:
    r = client.simulate_get("/apiv1/count", query_string="order=bogus&limit=abc&offset=-1")
    assert r.status_code == 200
    assert r.json["querystring"] == {"order": ["bogus"], "limit": ["abc"], "offset": ["-1"]}


def test_list_ivorn_request_and_envelope(client: Any, archive: Any) -> None:
    archive.list_reply = archive_pb2.ListResponse(ivorns=["ivo://a/b#1", "ivo://a/b#2"])
    r = client.simulate_get(
        "/apiv1/list/ivorn", query_string="limit=3&offset=2&order=-author_datetime"
    )
    assert r.json["result"] == ["ivo://a/b#1", "ivo://a/b#2"]
    assert r.json["limit"] == 3
    assert r.json["endpoint"] == "/apiv1/list/ivorn"
    sent = archive.requests[0]
    assert (sent.limit, sent.offset, sent.order, sent.kind) == (
        3,
        2,
        archive_pb2.ORDER_AUTHOR_DATETIME_DESC,
        archive_pb2.ListRequest.IVORN,
    )


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("ivorn_nrefs", archive_pb2.ListRequest.IVORN_NREFS),
        ("ivorn_ncites", archive_pb2.ListRequest.IVORN_NCITES),
    ],
)
def test_list_pairs(client: Any, archive: Any, name: str, kind: int) -> None:
    archive.list_reply = archive_pb2.ListResponse(rows=[archive_pb2.ListRow(ivorn=XRT, count=3)])
    r = client.simulate_get(f"/apiv1/list/{name}")
    assert r.json["result"] == [[XRT, 3]]
    assert r.json["limit"] == 100
    assert archive.requests[0].kind == kind


def test_list_limit_errors(client: Any) -> None:
    r = client.simulate_get("/apiv1/list/ivorn", query_string="limit=99999")
    assert r.status_code == 413
    assert r.json["error"]["description"] == "Max 'limit' value exceeded"
    assert "99999" in r.json["error"]["message"]
    r = client.simulate_get("/apiv1/list/ivorn", query_string="offset=abc")
    assert r.status_code == 400
    assert r.json["error"] == {
        "code": 400,
        "description": "Invalid query-string",
        "message": "not an integer: 'abc'",
        "parameter": "offset",
    }


def test_maps(client: Any, archive: Any) -> None:
    archive.map_reply = archive_pb2.MapResponse(
        entries=[
            archive_pb2.MapEntry(key="voevent.organization.tld/TEST", subkey="test", count=5),
            archive_pb2.MapEntry(key="voevent.organization.tld/TEST", subkey="utility", count=5),
            archive_pb2.MapEntry(key="gaia.cam.uk/alerts", subkey="observation", count=1),
        ]
    )
    r = client.simulate_get("/apiv1/map/stream_role_count", query_string="stream=x")
    assert r.json["result"] == {
        "gaia.cam.uk/alerts": {"observation": 1},
        "voevent.organization.tld/TEST": {"test": 5, "utility": 5},
    }
    assert archive.requests[0].kind == archive_pb2.MapRequest.STREAM_ROLE
    archive.map_reply = archive_pb2.MapResponse(
        entries=[archive_pb2.MapEntry(key="2015-01", count=5), archive_pb2.MapEntry(count=1)]
    )
    r = client.simulate_get("/apiv1/map/authored_month_count")
    assert r.json["result"] == {"2015-01": 5, "null": 1}


def test_synopsis_matches_reference_shape(client: Any, archive: Any, xrt: Any) -> None:
    archive.packets[XRT] = xrt
    r = client.simulate_get("/apiv1/packet/synopsis/" + quote_plus(XRT))
    assert r.status_code == 200
    body = r.json
    assert body["endpoint"] == "/apiv1/packet/synopsis/<path:url_encoded_ivorn>"
    assert body["querystring"] == {}
    assert body["result"] == {
        "coords": [
            {"dec": -34.9131, "error": 0.001, "ra": 319.6588, "time": "2015-09-15T21:24:37+00:00"}
        ],
        "refs": [
            {
                "cite_type": "followup",
                "description": "This is the XRT Position for the original BAT trigger.",
                "ref_ivorn": "ivo://nasa.gsfc.gcn/SWIFT#BAT_GRB_Pos_655721-214",
            }
        ],
        "relevant_urls": [
            "http://www.swift.ac.uk/search/summary.php?obsid=655721",
            "http://gcn.gsfc.nasa.gov/other/655721.swift",
        ],
        "voevent": {
            "author_datetime": "2015-09-15T21:43:50+00:00",
            "author_ivorn": "ivo://nasa.gsfc.tan/gcn",
            "ivorn": XRT,
            "received": "2026-11-25T02:20:27.961214+00:00",
            "role": "observation",
            "stream": "nasa.gsfc.gcn/SWIFT",
            "version": "2.0",
        },
    }


def test_synopsis_nulls(client: Any, archive: Any) -> None:
    bare = archive_pb2.PacketSynopsis(
        ivorn="ivo://t/nodate#1",
        stream="t/nodate",
        role=archive_pb2.TEST,
        version="2.0",
        coords=[archive_pb2.Coord(ra=1.5, dec=2.0)],
    )
    bare.received.FromJsonString("2020-06-01T00:00:00Z")
    archive.packets[bare.ivorn] = bare
    result = client.simulate_get("/apiv1/packet/synopsis/" + quote_plus(bare.ivorn)).json["result"]
    assert result["voevent"]["author_datetime"] is None
    assert result["voevent"]["author_ivorn"] is None
    assert result["coords"] == [{"dec": 2.0, "error": None, "ra": 1.5, "time": None}]
    assert result["refs"] == []
    assert result["relevant_urls"] == []


@pytest.mark.parametrize(
    "path",
    [
        quote_plus("ivo://test.local/nodate#pkt 1+2é"),  # what voeventdb.remote sends
        "ivo://test.local/nodate%23pkt%201%2B2%C3%A9",  # raw slashes, %20 for the space
        quote_plus(quote_plus("ivo://test.local/nodate#pkt 1+2é")),  # double-encoded
    ],
)
def test_xml_ivorn_decoding(client: Any, archive: Any, path: str) -> None:
    ivorn = "ivo://test.local/nodate#pkt 1+2é"
    archive.xml[ivorn] = (
        "<?xml version='1.0' encoding='UTF-8'?><voe:VOEvent>é</voe:VOEvent>".encode()
    )
    r = client.simulate_get("/apiv1/packet/xml/" + path)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/xml; charset=utf-8"
    assert r.content == archive.xml[ivorn]


def test_xml_charset_is_the_packets_own_encoding(client: Any, archive: Any) -> None:
    """Served as received: a Latin-1 packet must not be labelled UTF-8 (HTTP's charset wins)."""
    ivorn = "ivo://test.local/nodate#latin1"
    archive.xml[ivorn] = (
        "<?xml version='1.0' encoding='ISO-8859-1'?>\n<voe:VOEvent>pôle</voe:VOEvent>"
    ).encode("latin-1")
    r = client.simulate_get("/apiv1/packet/xml/" + quote_plus(ivorn))
    assert r.headers["content-type"] == "text/xml; charset=iso-8859-1"
    assert r.content == archive.xml[ivorn]
    assert "pôle" in r.content.decode(r.headers["content-type"].split("charset=")[1])


#: A packet's XML by either API.
XML_URLS = ["/apiv1/packet/xml/" + quote_plus(XRT), "/apiv2/packet/xml?ivorn=" + quote_plus(XRT)]


@pytest.mark.parametrize("url", XML_URLS)
def test_xml_is_cacheable_and_revalidated(client: Any, archive: Any, url: str) -> None:
    path, _, query = url.partition("?")
    archive.xml[XRT] = b"<voe:VOEvent ivorn='one'/>"
    first = client.simulate_get(path, query_string=query)
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)  # a strong ETag: quoted, no W/

    for held in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = client.simulate_get(path, query_string=query, headers={"If-None-Match": held})
        assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", etag)
    stale = client.simulate_get(path, query_string=query, headers={"If-None-Match": '"other"'})
    assert (stale.status_code, stale.content) == (200, archive.xml[XRT])

    archive.xml[XRT] = b"<voe:VOEvent ivorn='two'/>"
    assert client.simulate_get(path, query_string=query).headers["etag"] != etag


@pytest.mark.parametrize("url", XML_URLS)
def test_if_match_on_another_copy_is_412(client: Any, archive: Any, url: str) -> None:
    """If-Match was ignored: a client asking for the copy it holds got another one, 200."""
    path, _, query = url.partition("?")
    archive.xml[XRT] = b"<voe:VOEvent ivorn='one'/>"
    etag = client.simulate_get(path, query_string=query).headers["etag"]
    for held in (etag, f'"other", {etag}', "*"):
        same = client.simulate_get(path, query_string=query, headers={"If-Match": held})
        assert (same.status_code, same.content) == (200, archive.xml[XRT])
    for held in ('"other"', f"W/{etag}"):  # If-Match compares strongly: a weak tag never matches
        refused = client.simulate_get(path, query_string=query, headers={"If-Match": held})
        assert refused.status_code == 412
        assert refused.json["error"]["message"] == (
            f"If-Match {held} does not match the packet's current ETag"
        )


def test_packet_errors(client: Any) -> None:
    r = client.simulate_get("/apiv1/packet/xml/")
    assert (r.status_code, r.json["error"]["description"]) == (400, "No IVORN supplied")
    r = client.simulate_get("/apiv1/packet/synopsis/" + quote_plus("ivo://no/such#thing"))
    assert r.status_code == 422
    assert r.json["error"]["description"] == "IVORN not found"
    assert "ivo://no/such#thing" in r.json["error"]["message"]
    for bad in ("%FF", "ivo%3A%2F%2Fa%2Fb%23%C3", "ivo%3A%2F%2Fa%2Fb%23%00"):
        r = client.simulate_get("/apiv1/packet/xml/" + bad)
        assert (r.status_code, r.json["error"]["parameter"]) == (400, "ivorn")
        assert r.json["error"]["message"] == (
            "the IVORN in the path is not UTF-8 text without NUL characters"
        )


def test_packet_query_string_ignored(client: Any, archive: Any, xrt: Any) -> None:
    archive.packets[XRT] = xrt
    r = client.simulate_get("/apiv1/packet/synopsis/" + quote_plus(XRT), query_string="foo=bar")
    assert r.status_code == 200
    assert r.json["querystring"] == {"foo": ["bar"]}


@pytest.mark.parametrize(
    ("path", "location"),
    [
        ("/apiv1", "/apiv1/"),
        ("/apiv1/packet/xml", "/apiv1/packet/xml/"),
        ("/apiv1/packet/synopsis", "/apiv1/packet/synopsis/"),
        # a doubled slash (a host given with a trailing one) must not become "//apiv1/", which
        # browsers and clients read as the URL of a host named apiv1
        ("//apiv1", "/apiv1/"),
        ("///apiv1/packet/xml", "/apiv1/packet/xml/"),
    ],
)
def test_slash_redirects(client: Any, path: str, location: str) -> None:
    r = client.simulate_get(path)
    assert r.status_code == 308
    assert r.headers["location"] == location


@pytest.mark.parametrize(
    "path",
    ["/apiv3", "/apiv1/count/", "/apiv1/list/bogus", "/apiv1/map/x", "/a" * 500, "/apiv1/%FF%FE"],
)
def test_unknown_paths_are_json_404(client: Any, path: str) -> None:
    r = client.simulate_get(path)
    assert r.status_code == 404
    assert r.json["error"]["code"] == 404
    assert r.json["error"]["message"].startswith("404 Not Found: The requested URL")


def test_double_leading_slash_tolerated(client: Any, archive: Any) -> None:
    archive.count_reply = 4
    assert client.simulate_get("//apiv1/count").json["result"] == 4


def test_post_is_json_405_naming_method_path_and_allowed(client: Any) -> None:
    r = client.simulate_post("/apiv1/count")
    assert r.status_code == 405
    assert r.headers["allow"] == "GET, HEAD, OPTIONS"  # HEAD is answered as GET
    assert r.json["error"] == {
        "code": 405,
        "description": "Method Not Allowed",
        "message": "POST is not allowed on /apiv1/count; allowed: GET, HEAD, OPTIONS",
    }
    assert client.simulate_head("/apiv1/count").status_code == 200


def test_unknown_method_is_400_naming_it(client: Any) -> None:
    r = client.simulate_request("BREW", "/apiv1/count")
    assert r.status_code == 400
    assert r.json["error"]["message"] == "unknown HTTP method 'BREW'"


def test_head_has_the_get_headers_and_no_body(client: Any, archive: Any) -> None:
    archive.count_reply = 7
    got = client.simulate_get("/apiv1/count")
    head = client.simulate_head("/apiv1/count")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == str(len(got.content))
    assert head.headers["content-type"] == "application/json"
    assert client.simulate_head("/apiv1/nowhere").status_code == 404


def test_root_document(client: Any) -> None:
    body = client.simulate_get("/apiv1/").json
    assert body["api_version"] == "apiv1"
    assert body["endpoints"][0] == "/apiv1/"
    assert len(body["endpoints"]) == 11
    assert body["docs_url"] == "http://vohub.example/docs"
    assert body["message"] == "Welcome to the voeventdb REST API, interface version 'apiv1'."
    html = client.simulate_get("/apiv1/", headers={"Accept": "text/html,*/*"})
    assert html.headers["content-type"].startswith("text/html")
    assert "/apiv1/count" in html.text


def test_archive_unavailable_is_503_with_retry_after(client: Any, archive: Any) -> None:
    archive.error = ArchiveUnavailable("UNAVAILABLE: connection refused")
    r = client.simulate_get("/apiv1/count")
    assert r.status_code == 503
    assert r.headers["retry-after"] == "5"
    assert "connection refused" in r.json["error"]["message"]


def test_archive_timed_out_is_504_saying_so_without_retry_after(client: Any, archive: Any) -> None:
    archive.error = ArchiveTimedOut("no answer within 5 s")
    r = client.simulate_get("/apiv1/map/stream_count", query_string="cone=[0,0,180]")
    assert r.status_code == 504
    assert "retry-after" not in r.headers
    assert r.json["error"]["message"].startswith(
        "the archive did not answer in time (no answer within 5 s); a narrower query"
    )


def test_archive_invalid_argument_is_400_naming_field(client: Any, archive: Any) -> None:
    archive.error = ArchiveInvalidArgument("cursor: not a cursor of this archive")
    r = client.simulate_get("/apiv1/count")
    assert r.status_code == 400
    assert r.json["error"]["parameter"] == "cursor"


def test_unexpected_failure_is_generic_500_json(client: Any, archive: Any) -> None:
    archive.error = ArchiveFailure("INTERNAL: secret stack detail")
    r = client.simulate_get("/apiv1/count")
    assert r.status_code == 500
    assert r.json == {"error": {"code": 500, "description": "Internal Server Error", "message": ""}}
    assert "secret" not in r.text
    assert "Traceback" not in r.text


@pytest.mark.parametrize(
    ("query", "status", "parameter"),
    [
        ("stream=" + "x" * 9000, 414, "uri"),
        ("stream=a%00b", 400, "stream"),
        ("stream=%C3%28", 400, "stream"),
        ("stream=%G1", 400, "stream"),
        ("foo=bar", 400, "foo"),
        ("authored_since=yesterday", 400, "authored_since"),
        # 2015-01-01 in Arabic-Indic digits: was read as 2015-01-01
        ("authored_since=%D9%A2%D9%A0%D9%A1%D9%A5-01-01", 400, "authored_since"),
        ("cone=" + "[" * 5000, 400, "cone"),
        ("cone=[1" + "0" * 400 + ",0,1]", 400, "cone"),  # too large for a double: was a 500
        ("limit=" + "9" * 300, 413, "limit"),
    ],
)
def test_hostile_queries_are_json_4xx(client: Any, query: str, status: int, parameter: str) -> None:
    r = client.simulate_get("/apiv1/list/ivorn", query_string=query)
    assert r.status_code == status
    assert json.loads(r.text)["error"]["parameter"] == parameter


def test_root_docs_url_keeps_the_scheme_and_port_the_client_used(archive: Any) -> None:
    plain = falcon.testing.TestClient(create_app(GatewayConfig(), archive))
    secure = plain.simulate_get("/apiv1/", protocol="https", host="vohub.example.org")
    assert secure.json["docs_url"] == "https://vohub.example.org/docs"
    other_port = plain.simulate_get("/apiv1/", host="vohub.example.org", port=8443)
    assert other_port.json["docs_url"] == "http://vohub.example.org:8443/docs"

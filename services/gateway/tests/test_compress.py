"""Large answers are gzipped for clients that accept it; packet XML keeps its bytes and ETag."""

from __future__ import annotations

import gzip
from typing import Any

from vohub.v1 import archive_pb2

IVORNS = [f"ivo://example.org/alerts#{i:05d}" for i in range(1000)]


def test_a_large_list_is_gzipped_when_the_client_accepts_it(client: Any, archive: Any) -> None:
    archive.list_reply = archive_pb2.ListResponse(ivorns=IVORNS)
    plain = client.simulate_get("/apiv1/list/ivorn")
    packed = client.simulate_get("/apiv1/list/ivorn", headers={"Accept-Encoding": "gzip, br"})
    assert "content-encoding" not in plain.headers
    assert packed.headers["content-encoding"] == "gzip"
    assert plain.headers["vary"] == packed.headers["vary"] == "Accept-Encoding"
    assert gzip.decompress(packed.content) == plain.content
    assert int(packed.headers["content-length"]) < len(plain.content) / 5
    refused = client.simulate_get("/apiv1/list/ivorn", headers={"Accept-Encoding": "gzip;q=0"})
    assert refused.content == plain.content


def test_head_gives_the_compressed_length(client: Any, archive: Any) -> None:
    archive.list_reply = archive_pb2.ListResponse(ivorns=IVORNS)
    headers = {"Accept-Encoding": "gzip"}
    got = client.simulate_get("/apiv1/list/ivorn", headers=headers)
    head = client.simulate_head("/apiv1/list/ivorn", headers=headers)
    assert head.content == b""
    assert head.headers["content-length"] == got.headers["content-length"]
    assert head.headers["content-encoding"] == "gzip"


def test_small_answers_and_packet_xml_are_sent_as_they_are(client: Any, archive: Any) -> None:
    archive.count_reply = 3
    small = client.simulate_get("/apiv1/count", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in small.headers
    assert "vary" not in small.headers
    stored = b"<?xml version='1.0'?><voe:VOEvent>" + b" " * 5000 + b"</voe:VOEvent>"
    archive.xml["ivo://example.org/alerts#01"] = stored
    xml = client.simulate_get(
        "/apiv1/packet/xml/ivo://example.org/alerts%2301", headers={"Accept-Encoding": "gzip"}
    )
    assert xml.status_code == 200
    assert "content-encoding" not in xml.headers
    assert xml.content == stored


def test_gzip_refused_by_name_is_not_sent_even_when_any_coding_is_welcome(
    client: Any, archive: Any
) -> None:
    archive.list_reply = archive_pb2.ListResponse(ivorns=IVORNS)
    for header in ("*, gzip;q=0", "identity, *;q=0.5, gzip;q=0", "x-gzip;q=0, *"):
        reply = client.simulate_get("/apiv1/list/ivorn", headers={"Accept-Encoding": header})
        assert "content-encoding" not in reply.headers, header
    named = client.simulate_get("/apiv1/list/ivorn", headers={"Accept-Encoding": "*;q=0, gzip"})
    assert named.headers["content-encoding"] == "gzip"

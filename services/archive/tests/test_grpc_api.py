"""The Archive servicer over a real threaded gRPC server on port 0: responses and status codes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest
from sqlalchemy import Engine

from vohub.archive.grpc_api import ArchiveServicer
from vohub.archive.metrics import Metrics
from vohub.archive.store import Store
from vohub.common.addresses import Address
from vohub.common.grpc_serve import ThreadedGrpcServer
from vohub.common.timestamps import to_timestamp
from vohub.v1 import archive_pb2 as pb
from vohub.v1 import archive_pb2_grpc

PACKETS = [
    "BAT_GRB_Pos_655721-214.xml",
    "XRT_Pos_655721-326.xml",
    "Konus_Lightcurve_2015-07-10T00:28:01.68.xml",
    "Gaia16bsf.xml",
]
BAT = "ivo://nasa.gsfc.gcn/SWIFT#BAT_GRB_Pos_655721-214"
XRT = "ivo://nasa.gsfc.gcn/SWIFT#XRT_Pos_655721-326"
RECEIVED = datetime(2026, 5, 4, 3, 2, 1, tzinfo=UTC)


def start_server(
    store: Store, max_batch: int = 10, metrics: Metrics | None = None
) -> tuple[ThreadedGrpcServer, int]:
    """The archive's servicer on ``store``, serving on a free port: the server and its port."""
    servicer = ArchiveServicer(store, max_batch=max_batch, metrics=metrics)
    server = ThreadedGrpcServer(
        Address("127.0.0.1", 0),
        [lambda s: archive_pb2_grpc.add_ArchiveServicer_to_server(servicer, s)],
        services=["vohub.v1.Archive"],
    )
    port = server.start()
    server.set_serving(True)
    return server, port


def serve(store: Store, max_batch: int = 10) -> tuple[ThreadedGrpcServer, grpc.aio.Channel]:
    server, port = start_server(store, max_batch)
    return server, grpc.aio.insecure_channel(f"127.0.0.1:{port}")


@pytest.fixture
async def stub(engine: Engine, data_dir: Path) -> AsyncIterator[archive_pb2_grpc.ArchiveStub]:
    server, channel = serve(Store(engine))
    client = archive_pb2_grpc.ArchiveStub(channel)
    folder = data_dir / "voevents" / "voeventdb"
    packets = [
        pb.IngestPacket(xml=(folder / name).read_bytes(), received=to_timestamp(RECEIVED))
        for name in PACKETS
    ]
    reply = await client.Ingest(pb.IngestRequest(packets=packets))
    assert [r.outcome for r in reply.results] == [pb.IngestResult.STORED] * 4
    yield client
    await channel.close()
    server.stop(grace=0)


async def code_of(call: object) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    return caught.value.code(), caught.value.details() or ""


async def test_ingest_outcomes_in_order(stub: archive_pb2_grpc.ArchiveStub, data_dir: Path) -> None:
    raw = (data_dir / "voevents" / "voeventdb" / PACKETS[0]).read_bytes()
    request = pb.IngestRequest(
        packets=[
            pb.IngestPacket(xml=raw),
            pb.IngestPacket(xml=raw + b"\n"),  # the same packet, serialised differently
            pb.IngestPacket(xml=raw.replace(b"</voe:VOEvent>", b"<!-- x --></voe:VOEvent>")),
            pb.IngestPacket(xml=b"<not xml"),
        ]
    )
    reply = await stub.Ingest(request)
    assert [(r.ivorn, r.outcome) for r in reply.results] == [
        (BAT, pb.IngestResult.DUPLICATE),
        (BAT, pb.IngestResult.DUPLICATE),
        (BAT, pb.IngestResult.CONFLICT),
        ("", pb.IngestResult.INVALID),
    ]
    assert "already archived with different content" in reply.results[2].reason
    assert "malformed XML" in reply.results[3].reason


async def test_ingest_batch_over_the_limit(stub: archive_pb2_grpc.ArchiveStub) -> None:
    request = pb.IngestRequest(packets=[pb.IngestPacket(xml=b"<x/>")] * 11)
    code, details = await code_of(stub.Ingest(request))
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert details == "packets: 11 packets, over the batch limit 10"


async def test_count_list_and_cursor(stub: archive_pb2_grpc.ArchiveStub) -> None:
    swift = pb.Filter(stream=["nasa.gsfc.gcn/SWIFT"])
    assert (await stub.Count(pb.CountRequest(filter=swift))).count == 2
    assert (await stub.Count(pb.CountRequest(filter=pb.Filter(coord=True)))).count == 3
    cited = pb.Filter(cited=True)
    only = await stub.List(pb.ListRequest(filter=cited, limit=10))
    assert (list(only.ivorns), list(only.rows)) == ([BAT], [])
    ncites = await stub.List(
        pb.ListRequest(
            kind=pb.ListRequest.IVORN_NCITES, limit=10, order=pb.ORDER_AUTHOR_DATETIME_DESC
        )
    )
    assert [(r.ivorn, r.count) for r in ncites.rows][:2] == [
        ("ivo://gaia.cam.uk/alerts#Gaia16bsf", 0),
        (XRT, 0),
    ]
    assert {r.ivorn: r.count for r in ncites.rows}[BAT] == 1
    first = await stub.List(pb.ListRequest(limit=3, order=pb.ORDER_IVORN))
    second = await stub.List(
        pb.ListRequest(limit=3, order=pb.ORDER_IVORN, cursor=first.next_cursor)
    )
    assert first.next_cursor
    assert second.next_cursor == ""
    everything = [*first.ivorns, *second.ivorns]
    assert everything == sorted(everything)
    assert len(everything) == 4


async def test_list_synopsis_rows(stub: archive_pb2_grpc.ArchiveStub) -> None:
    reply = await stub.List(
        pb.ListRequest(kind=pb.ListRequest.SYNOPSIS, limit=1, filter=pb.Filter(ref_any=True))
    )
    [row] = reply.rows
    assert row.synopsis.ivorn == XRT
    assert [r.ref_ivorn for r in row.synopsis.refs] == [BAT]


async def test_maps(stub: archive_pb2_grpc.ArchiveStub) -> None:
    reply = await stub.Map(pb.MapRequest(kind=pb.MapRequest.STREAM_ROLE))
    assert [(e.key, e.subkey, e.count) for e in reply.entries] == [
        ("gaia.cam.uk/alerts", "observation", 1),
        ("nasa.gsfc.gcn/KONUS", "observation", 1),
        ("nasa.gsfc.gcn/SWIFT", "observation", 2),
    ]
    months = await stub.Map(
        pb.MapRequest(kind=pb.MapRequest.AUTHORED_MONTH, filter=pb.Filter(coord=True))
    )
    assert [(e.key, e.count) for e in months.entries] == [("2015-09", 2), ("2016-11", 1)]
    assert all(e.HasField("key") for e in months.entries)


async def test_synopsis_and_xml(stub: archive_pb2_grpc.ArchiveStub, data_dir: Path) -> None:
    synopsis = await stub.Synopsis(pb.PacketRequest(ivorn=XRT))
    assert synopsis.role == pb.OBSERVATION
    assert synopsis.received.ToDatetime(tzinfo=UTC) == RECEIVED
    assert synopsis.author_datetime.ToDatetime(tzinfo=UTC) == datetime(
        2015, 9, 15, 21, 43, 50, tzinfo=UTC
    )
    assert synopsis.author_ivorn == "ivo://nasa.gsfc.tan/gcn"
    [coord] = synopsis.coords
    assert (coord.ra, coord.dec, coord.error) == (319.6588, -34.9131, 0.001)
    assert coord.time.ToDatetime(tzinfo=UTC) == datetime(2015, 9, 15, 21, 24, 37, tzinfo=UTC)
    [ref] = synopsis.refs
    assert (ref.ref_ivorn, ref.cite_type) == (BAT, "followup")
    assert (await stub.Synopsis(pb.PacketRequest(ivorn=BAT))).cited_by == [XRT]
    xml = await stub.GetXml(pb.PacketRequest(ivorn=XRT))
    assert xml.xml == (data_dir / "voevents" / "voeventdb" / PACKETS[1]).read_bytes()


@pytest.mark.parametrize(
    ("call", "code", "details"),
    [
        ("synopsis", grpc.StatusCode.NOT_FOUND, "ivo://no/such#1: no such packet in the archive"),
        ("xml", grpc.StatusCode.NOT_FOUND, "ivo://no/such#1: no such packet in the archive"),
        ("cone", grpc.StatusCode.INVALID_ARGUMENT, "filter.cone.dec: must be within [-90, 90]"),
        ("role", grpc.StatusCode.INVALID_ARGUMENT, "filter.role: role value 9 is not a known"),
        ("limit", grpc.StatusCode.INVALID_ARGUMENT, "limit: must be within [0, 10000], not 10001"),
        ("order", grpc.StatusCode.INVALID_ARGUMENT, "order: unknown value 42"),
        ("cursor", grpc.StatusCode.INVALID_ARGUMENT, "cursor: not a cursor from this archive"),
    ],
)
async def test_errors_map_to_status_codes(
    stub: archive_pb2_grpc.ArchiveStub, call: str, code: grpc.StatusCode, details: str
) -> None:
    calls = {
        "synopsis": lambda: stub.Synopsis(pb.PacketRequest(ivorn="ivo://no/such#1")),
        "xml": lambda: stub.GetXml(pb.PacketRequest(ivorn="ivo://no/such#1")),
        "cone": lambda: stub.Count(
            pb.CountRequest(filter=pb.Filter(cone=pb.Cone(ra=1.0, dec=91.0, radius=1.0)))
        ),
        "role": lambda: stub.Map(pb.MapRequest(filter=pb.Filter(role=[9]))),  # type: ignore[list-item]
        "limit": lambda: stub.List(pb.ListRequest(limit=10_001)),
        "order": lambda: stub.List(pb.ListRequest(limit=1, order=42)),  # type: ignore[arg-type]
        "cursor": lambda: stub.List(pb.ListRequest(limit=1, cursor="x")),
    }
    found_code, found = await code_of(calls[call]())
    assert found_code is code
    assert found.startswith(details)


@pytest.mark.postgres
async def test_unreachable_database_is_unavailable(data_dir: Path) -> None:
    raw = (data_dir / "voevents" / "voeventdb" / PACKETS[0]).read_bytes()
    server, channel = serve(Store.open("postgresql://postgres@127.0.0.1:1/nothing"))
    try:
        stub = archive_pb2_grpc.ArchiveStub(channel)
        code, details = await code_of(stub.Count(pb.CountRequest()))
        assert code is grpc.StatusCode.UNAVAILABLE
        assert "127.0.0.1:1" in details
        ingest = stub.Ingest(pb.IngestRequest(packets=[pb.IngestPacket(xml=raw)]))
        code, details = await code_of(ingest)
        assert code is grpc.StatusCode.UNAVAILABLE
        assert "database unavailable" in details
    finally:
        await channel.close()
        server.stop(grace=0)

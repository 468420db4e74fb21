"""Requests with values out of range answer INVALID_ARGUMENT naming the field, and every rpc
is counted in ``vohub_archive_rpc_seconds`` under the status code it was answered with."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from vohub.archive.metrics import Metrics
from vohub.archive.store import Store
from vohub.v1 import archive_pb2 as pb
from vohub.v1 import archive_pb2_grpc

from .test_grpc_api import start_server

#: A Timestamp past year 9999: valid protobuf, no datetime.
FAR = Timestamp(seconds=10**12)


@pytest.fixture
def served(store: Store) -> Iterator[tuple[archive_pb2_grpc.ArchiveStub, Metrics]]:
    metrics = Metrics()
    server, port = start_server(store, max_batch=2, metrics=metrics)
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield archive_pb2_grpc.ArchiveStub(channel), metrics
    server.stop(0)


def status(call: object, *args: object) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as caught:
        call(*args, timeout=10)  # type: ignore[operator]
    return caught.value.code(), caught.value.details()  # type: ignore[attr-defined]


def test_out_of_range_values_name_their_field(
    served: tuple[archive_pb2_grpc.ArchiveStub, Metrics], data_dir: Path
) -> None:
    stub, _ = served
    invalid = grpc.StatusCode.INVALID_ARGUMENT
    far = "seconds 1000000000000 is out of range (years 1 to 9999)"
    assert status(stub.Count, pb.CountRequest(filter=pb.Filter(authored_since=FAR))) == (
        invalid,
        f"filter.authored_since: {far}",
    )
    early = pb.Filter(event_until=Timestamp(seconds=-(10**11)))
    assert status(stub.Map, pb.MapRequest(filter=early)) == (
        invalid,
        "filter.event_until: seconds -100000000000 is out of range (years 1 to 9999)",
    )
    raw = (data_dir / "voevents" / "voeventdb" / "Gaia16bsf.xml").read_bytes()
    packets = [pb.IngestPacket(xml=raw), pb.IngestPacket(xml=raw, received=FAR)]
    assert status(stub.Ingest, pb.IngestRequest(packets=packets)) == (
        invalid,
        f"packets[1].received: {far}",
    )
    assert stub.Count(pb.CountRequest(), timeout=10).count == 0  # nothing of it stored
    huge = pb.ListRequest(limit=1, offset=2**63)  # a uint64 on the wire, over BIGINT
    assert status(stub.List, huge) == (
        invalid,
        f"offset: must be <= {2**63 - 1}, not {2**63}",
    )


@pytest.mark.parametrize(
    "field",
    ["ivorn_contains", "ivorn_prefix", "ref_contains", "ref_exact", "stream", "stream_prefix"],
)
def test_a_nul_in_a_text_filter_is_invalid_on_both_backends(
    served: tuple[archive_pb2_grpc.ArchiveStub, Metrics], field: str
) -> None:
    """PostgreSQL failed UNKNOWN ("A string literal cannot contain NUL"); SQLite answered."""
    stub, _ = served
    bad = pb.Filter(**{field: ["ivo://a\x00"]})
    expected = (
        grpc.StatusCode.INVALID_ARGUMENT,
        f"filter.{field}: must not contain a NUL character: 'ivo://a\\x00'",
    )
    assert status(stub.Count, pb.CountRequest(filter=bad)) == expected
    assert status(stub.List, pb.ListRequest(filter=bad, limit=5)) == expected
    assert status(stub.Map, pb.MapRequest(filter=bad)) == expected


def test_a_nul_in_an_ivorn_is_invalid_on_both_backends(
    served: tuple[archive_pb2_grpc.ArchiveStub, Metrics],
) -> None:
    stub, _ = served
    expected = (
        grpc.StatusCode.INVALID_ARGUMENT,
        "ivorn: must not contain a NUL character: 'ivo://a/b#\\x00'",
    )
    request = pb.PacketRequest(ivorn="ivo://a/b#\x00")
    assert status(stub.Synopsis, request) == expected
    assert status(stub.GetXml, request) == expected


def test_every_rpc_is_counted_under_its_answer(
    served: tuple[archive_pb2_grpc.ArchiveStub, Metrics],
) -> None:
    stub, metrics = served

    def answered(rpc: str, code: str) -> float:
        labels = {"rpc": rpc, "code": code}
        return metrics.registry.get_sample_value("vohub_archive_rpc_seconds_count", labels) or 0

    stub.Count(pb.CountRequest(), timeout=10)
    status(stub.Count, pb.CountRequest(filter=pb.Filter(authored_until=FAR)))
    status(stub.Ingest, pb.IngestRequest(packets=[pb.IngestPacket(xml=b"<x/>")] * 3))
    assert answered("Count", "OK") == 1
    assert answered("Count", "INVALID_ARGUMENT") == 1
    assert answered("Ingest", "INVALID_ARGUMENT") == 1  # over max_batch: answered, so counted


def test_an_unexpected_failure_is_not_counted_as_ok(
    served: tuple[archive_pb2_grpc.ArchiveStub, Metrics],
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stub, metrics = served

    def broken(*_: object, **__: object) -> int:
        raise RuntimeError("a defect")

    monkeypatch.setattr(store, "count", broken)
    assert status(stub.Count, pb.CountRequest())[0] is grpc.StatusCode.UNKNOWN
    sample = metrics.registry.get_sample_value
    assert sample("vohub_archive_rpc_seconds_count", {"rpc": "Count", "code": "OK"}) is None
    assert sample("vohub_archive_rpc_seconds_count", {"rpc": "Count", "code": "UNKNOWN"}) == 1

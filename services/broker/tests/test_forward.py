"""The archive forwarder against a real, flapping in-test gRPC Archive server."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2
from grpc_health.v1._async import HealthServicer

from vohub.broker.forward import Forwarder, GrpcArchive
from vohub.broker.metrics import Metrics
from vohub.broker.spool import Record, Spool
from vohub.v1 import archive_pb2, archive_pb2_grpc

from .conftest import wait_for

IVORN = re.compile(rb'ivorn="([^"]*)"')


class FlakyArchive(archive_pb2_grpc.ArchiveServicer):
    """Stores packets by IVORN; refuses the first ``fail`` calls; caps batches at ``limit``."""

    def __init__(self, fail: int = 0, limit: int = 1000) -> None:
        self.fail, self.limit = fail, limit
        self.stored: dict[str, bytes] = {}
        self.calls = 0

    async def Ingest(self, request, context):  # type: ignore[no-untyped-def]  # noqa: N802
        self.calls += 1
        if self.calls <= self.fail:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "database is down")
        if len(request.packets) > self.limit:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"batch over {self.limit}")
        results = []
        for packet in request.packets:
            ivorn = IVORN.search(packet.xml).group(1).decode()  # type: ignore[union-attr]
            if ivorn in self.stored:
                outcome = archive_pb2.IngestResult.DUPLICATE
            else:
                self.stored[ivorn] = packet.xml
                outcome = archive_pb2.IngestResult.STORED
            results.append(archive_pb2.IngestResult(ivorn=ivorn, outcome=outcome))
        return archive_pb2.IngestResponse(results=results)


async def serve(servicer: FlakyArchive, port: int = 0) -> tuple[grpc.aio.Server, int]:
    server = grpc.aio.server()
    archive_pb2_grpc.add_ArchiveServicer_to_server(servicer, server)
    health = HealthServicer()
    from grpc_health.v1 import health_pb2_grpc

    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    await health.set("", health_pb2.HealthCheckResponse.SERVING)
    bound = server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    return server, bound


async def spooled(directory: Path, n: int) -> Spool:
    spool = Spool.open(directory)
    for i in range(n):
        xml = f'<VOEvent ivorn="ivo://vohub.test/f#{i}" role="test"/>'.encode()
        await spool.append(f"ivo://vohub.test/f#{i}", xml, 1.0)
    return spool


async def test_retries_through_refusals_and_a_restart_then_stores_each_packet_once(
    tmp_path: Path,
) -> None:
    spool = await spooled(tmp_path, 50)
    archive = FlakyArchive(fail=3)
    server, port = await serve(archive)
    client = GrpcArchive(f"127.0.0.1:{port}")
    metrics = Metrics()
    forwarder = Forwarder(spool, client, metrics, batch=20, max_backoff=0.5, health_poll=0.05)
    task = asyncio.create_task(forwarder.run())
    await wait_for(lambda: spool.depth == 0)
    assert len(archive.stored) == 50
    assert metrics.value("vohub_broker_archive_errors_total", code="UNAVAILABLE") == 3

    await server.stop(0)  # the archive goes away; packets keep coming
    for i in range(50, 80):
        xml = f'<VOEvent ivorn="ivo://vohub.test/f#{i}" role="test"/>'.encode()
        await spool.append(f"ivo://vohub.test/f#{i}", xml, 1.0)
    await asyncio.sleep(0.3)
    assert spool.depth == 30
    server, _ = await serve(archive, port)  # back on the same port
    await wait_for(lambda: spool.depth == 0)
    assert sorted(archive.stored) == sorted(f"ivo://vohub.test/f#{i}" for i in range(80))
    assert metrics.value("vohub_broker_archived_total", outcome="stored") == 80
    task.cancel()
    await client.close()
    await server.stop(0)
    await spool.close()


async def test_a_replayed_batch_counts_duplicates_as_delivered(tmp_path: Path) -> None:
    spool = await spooled(tmp_path, 10)
    archive = FlakyArchive()
    server, port = await serve(archive)
    client = GrpcArchive(f"127.0.0.1:{port}")
    metrics = Metrics()
    for record in spool.reader().read(5, 1 << 20):  # stored before a "crash"
        archive.stored[record.ivorn] = record.xml
    forwarder = Forwarder(spool, client, metrics, batch=4)
    task = asyncio.create_task(forwarder.run())
    await wait_for(lambda: spool.depth == 0)
    assert metrics.value("vohub_broker_archived_total", outcome="duplicate") == 5
    assert metrics.value("vohub_broker_archived_total", outcome="stored") == 5
    assert len(archive.stored) == 10
    task.cancel()
    await client.close()
    await server.stop(0)
    await spool.close()


@pytest.mark.parametrize("limit", [1, 3])
async def test_batches_over_the_archive_limit_are_split(tmp_path: Path, limit: int) -> None:
    spool = await spooled(tmp_path, 10)
    archive = FlakyArchive(limit=limit)
    server, port = await serve(archive)
    client = GrpcArchive(f"127.0.0.1:{port}")
    forwarder = Forwarder(spool, client, Metrics(), batch=10)
    task = asyncio.create_task(forwarder.run())
    await wait_for(lambda: spool.depth == 0)
    assert len(archive.stored) == 10
    task.cancel()
    await client.close()
    await server.stop(0)
    await spool.close()


class ShortArchive:
    """Answers for only the first half of each batch the first ``short`` times, as a buggy or
    interrupted archive might; stores what it answers for."""

    def __init__(self, short: int) -> None:
        self.short = short
        self.stored: list[str] = []

    async def ingest(self, records: Sequence[Record], deadline: float) -> list[tuple[str, str]]:
        answered = list(records)
        if self.short > 0:
            self.short -= 1
            answered = answered[: len(answered) // 2]
        self.stored += [record.ivorn for record in answered]
        return [("stored", "")] * len(answered)

    async def serving(self) -> bool:
        return True


async def test_a_short_reply_moves_the_checkpoint_only_past_the_answered_packets(
    tmp_path: Path,
) -> None:
    """The checkpoint went past the whole batch: packets the archive never answered for
    were dropped from the spool, never archived."""
    spool = await spooled(tmp_path, 10)
    archive = ShortArchive(short=2)
    metrics = Metrics()
    forwarder = Forwarder(spool, archive, metrics, batch=10, max_backoff=0.05, health_poll=0.01)
    task = asyncio.create_task(forwarder.run())
    await wait_for(lambda: spool.depth == 0, deadline=5)
    assert sorted(archive.stored) == sorted(f"ivo://vohub.test/f#{i}" for i in range(10))
    assert metrics.value("vohub_broker_archived_total", outcome="stored") == 10
    task.cancel()
    await spool.close()

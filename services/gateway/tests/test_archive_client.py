"""The gRPC archive client against real gRPC servers: one that starts late, two side by side."""

from __future__ import annotations

import asyncio
import time
from concurrent import futures
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2_grpc
from grpc_health.v1.health import HealthServicer

from vohub.gateway.archive_client import GrpcArchiveClient
from vohub.gateway.errors import ArchiveTimedOut, ArchiveUnavailable
from vohub.testing.ports import free_port
from vohub.v1 import archive_pb2, archive_pb2_grpc


class Counting(archive_pb2_grpc.ArchiveServicer):
    """Answers every count with its own number, so a test sees which server answered, after
    ``delay`` seconds."""

    def __init__(self, answer: int, delay: float = 0.0) -> None:
        self.answer = answer
        self.delay = delay
        self.calls = 0

    def Count(self, request: archive_pb2.CountRequest, context: Any) -> archive_pb2.CountResponse:  # noqa: N802
        self.calls += 1
        time.sleep(self.delay)
        return archive_pb2.CountResponse(count=self.answer)


def serve(port: int, answer: int | Counting) -> grpc.Server:
    servicer = answer if isinstance(answer, Counting) else Counting(answer)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    archive_pb2_grpc.add_ArchiveServicer_to_server(servicer, server)
    health_pb2_grpc.add_HealthServicer_to_server(HealthServicer(), server)  # "" is SERVING
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    return server


async def count(client: GrpcArchiveClient) -> int:
    return (await client.count(archive_pb2.CountRequest())).count


async def test_a_gateway_started_before_its_archive_reaches_it_within_seconds() -> None:
    """A call soon after the archive comes up succeeds: the channel's reconnect backoff is
    capped, and a call failing between two connection attempts waits for the next one."""
    port = free_port()
    client = GrpcArchiveClient(f"127.0.0.1:{port}", deadline_s=1.0, retries=1)
    with pytest.raises(ArchiveUnavailable, match="UNAVAILABLE"):
        await count(client)  # nothing listens: the channel backs off
    # gRPC's default backoff (1 s, x1.6 each time, +-20 %) would now try next at ~9 s, ~3.8 s
    # after the server starts; capped at 1 s, the channel tries again within ~1.2 s.
    await asyncio.sleep(5.5)
    server = serve(port, 7)
    try:
        # One call: it waits for the channel's next connection attempt, at most ~1 s away.
        assert await count(client) == 7
    finally:
        await client.close()
        server.stop(grace=0)


async def test_health_asked_between_two_connection_attempts_waits_for_the_next() -> None:
    """Each gunicorn worker has its own channel: one whose last attempt failed before the archive
    came up must not report it down while the archive already serves its sibling."""
    port = free_port()
    client = GrpcArchiveClient(f"127.0.0.1:{port}")
    assert (await client.healthy())[0] is False
    await asyncio.sleep(2.5)  # the channel's backoff has grown to its 1 s cap
    server = serve(port, 7)
    try:
        assert await client.healthy() == (True, "SERVING")
    finally:
        await client.close()
        server.stop(grace=0)


async def test_calls_alternate_between_two_archives_and_skip_one_that_stops() -> None:
    ports = [free_port(), free_port()]
    servers = [serve(ports[0], 1), serve(ports[1], 2)]
    client = GrpcArchiveClient(",".join(f"127.0.0.1:{p}" for p in ports), deadline_s=2.0)
    try:
        answers = [await count(client) for _ in range(40)]
        # Round-robin once both are connected (the first calls may find one still connecting).
        assert answers[-10:] == answers[-10:-8] * 5
        assert set(answers[-10:]) == {1, 2}
        servers[0].stop(grace=0).wait()
        answers = [await count(client) for _ in range(20)]
        assert answers == [2] * 20
    finally:
        await client.close()
        for server in servers:
            server.stop(grace=0)


async def test_a_missed_deadline_is_a_timeout_and_not_retried() -> None:
    port = free_port()
    slow = Counting(7, delay=1.0)
    server = serve(port, slow)
    client = GrpcArchiveClient(f"127.0.0.1:{port}", deadline_s=0.2, retries=2)
    try:
        with pytest.raises(ArchiveTimedOut, match=r"^no answer within 0\.2 s$"):
            await count(client)
        assert slow.calls == 1
    finally:
        await client.close()
        server.stop(grace=0)

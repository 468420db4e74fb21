"""gRPC server start-up, health and graceful stop over real channels."""

from __future__ import annotations

import os
import signal
import threading

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from vohub.common.addresses import Address
from vohub.common.errors import BindError
from vohub.common.grpc_serve import GrpcServer, ThreadedGrpcServer


async def test_not_serving_until_ready_then_serving() -> None:
    server = GrpcServer(Address("127.0.0.1", 0), [], services=["vohub.v1.Archive"])
    port = await server.start()
    try:
        assert port > 0
        assert await server.probe("vohub.v1.Archive") == "NOT_SERVING"
        await server.set_serving(True)
        assert await server.probe("vohub.v1.Archive") == "SERVING"
        assert await server.probe("") == "SERVING"
    finally:
        await server.stop(grace=0)


async def test_unknown_service_is_not_found() -> None:
    server = GrpcServer(Address("127.0.0.1", 0), [], services=["vohub.v1.Archive"])
    await server.start()
    try:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await server.probe("vohub.v1.Nope")
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
    finally:
        await server.stop(grace=0)


async def test_graceful_stop_tells_watchers() -> None:
    server = GrpcServer(Address("127.0.0.1", 0), [], services=["vohub.v1.Broker"])
    port = await server.start()
    await server.set_serving(True)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        watch = health_pb2_grpc.HealthStub(channel).Watch(
            health_pb2.HealthCheckRequest(service="vohub.v1.Broker")
        )
        first = await watch.read()
        assert first.status == health_pb2.HealthCheckResponse.SERVING
        await server.stop(grace=1)
        second = await watch.read()
        assert second.status == health_pb2.HealthCheckResponse.NOT_SERVING


def test_threaded_server_not_serving_until_ready_then_serving() -> None:
    server = ThreadedGrpcServer(Address("127.0.0.1", 0), [], services=["vohub.v1.Archive"])
    port = server.start()
    try:
        assert port > 0
        assert server.probe("vohub.v1.Archive") == "NOT_SERVING"
        server.set_serving(True)
        assert server.probe("vohub.v1.Archive") == "SERVING"
        assert server.probe("") == "SERVING"
    finally:
        server.stop(grace=0)


def test_threaded_server_unknown_service_is_not_found() -> None:
    server = ThreadedGrpcServer(Address("127.0.0.1", 0), [], services=["vohub.v1.Archive"])
    server.start()
    try:
        with pytest.raises(grpc.RpcError) as err:
            server.probe("vohub.v1.Nope")
        assert err.value.code() == grpc.StatusCode.NOT_FOUND  # type: ignore[attr-defined]
    finally:
        server.stop(grace=0)


def test_threaded_server_graceful_stop_tells_watchers() -> None:
    server = ThreadedGrpcServer(Address("127.0.0.1", 0), [], services=["vohub.v1.Archive"])
    port = server.start()
    server.set_serving(True)
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        watch = health_pb2_grpc.HealthStub(channel).Watch(
            health_pb2.HealthCheckRequest(service="vohub.v1.Archive"), timeout=10
        )
        assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
        stopping = threading.Thread(target=server.stop, args=(1,))
        stopping.start()
        assert next(watch).status == health_pb2.HealthCheckResponse.NOT_SERVING
        stopping.join()


async def test_a_second_server_on_a_port_in_use_fails_instead_of_sharing_it() -> None:
    first = GrpcServer(Address("127.0.0.1", 0), [], services=[])
    port = await first.start()
    try:
        with pytest.raises(BindError, match=f"^127.0.0.1:{port}: cannot listen here"):
            GrpcServer(Address("127.0.0.1", port), [], services=[])
        with pytest.raises(BindError, match=f"^127.0.0.1:{port}: "):
            ThreadedGrpcServer(Address("127.0.0.1", port), [], services=[])
    finally:
        await first.stop(grace=0)


def test_after_the_first_signal_later_ones_can_be_ignored() -> None:
    server = ThreadedGrpcServer(Address("127.0.0.1", 0), [], services=[])
    server.start()
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGINT)).start()
        server.wait_for_signal(then_ignore=True)
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        os.kill(os.getpid(), signal.SIGTERM)  # as `vohub up` stopping its children: no effect
        os.kill(os.getpid(), signal.SIGINT)
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)
        server.stop(grace=0)

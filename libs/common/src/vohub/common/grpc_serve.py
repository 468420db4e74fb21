"""Run a gRPC server with standard health checking and a graceful stop on SIGTERM.

Two kinds: :class:`GrpcServer` (``grpc.aio``) for a service built on an event loop (the
broker), :class:`ThreadedGrpcServer` (``grpc.server`` and a thread pool) for one whose
handlers block on a database (the archive): each call then runs on one pool thread from start
to end, with no event loop and no hand-off between loop and thread. In both, the health
status of each named service is NOT_SERVING until ``set_serving`` is called, so a probe never
reports a service ready before its store is reachable.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable, Iterable
from concurrent import futures
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer

from vohub.common.addresses import Address
from vohub.common.errors import BindError

#: A function adding servicers to a server, e.g. ``lambda s: add_ArchiveServicer_to_server(x, s)``.
Registration = Callable[[grpc.aio.Server], None]
#: The same, for a :class:`ThreadedGrpcServer`.
ThreadedRegistration = Callable[[grpc.Server], None]
#: Largest message either way, by default.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024


def _options(max_message_bytes: int) -> list[tuple[str, int]]:
    return [
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
        # gRPC binds with SO_REUSEPORT by default: a second server on a port already in use
        # would then start too, and the kernel would split the connections between the two.
        ("grpc.so_reuseport", 0),
    ]


def _install(server: Any, health_servicer: Any, registrations: Iterable[Any], bind: Address) -> int:
    """Add the health servicer and ``registrations`` to ``server``; bind it; return the port.

    Raises :class:`BindError` when the address is in use or not one of this machine's.
    """
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for register in registrations:
        register(server)
    try:
        return int(server.add_insecure_port(str(bind)))
    except RuntimeError:  # grpcio's only report of a failed bind
        raise BindError(str(bind), "cannot listen here: address in use or not local") from None


def _status(serving: bool) -> health_pb2.HealthCheckResponse.ServingStatus.ValueType:
    if serving:
        return health_pb2.HealthCheckResponse.SERVING
    return health_pb2.HealthCheckResponse.NOT_SERVING


class GrpcServer:
    """A bound ``grpc.aio`` server plus its health servicer.

    >>> async def demo() -> str:
    ...     server = GrpcServer(Address("127.0.0.1", 0), [], services=["vohub.v1.Demo"])
    ...     await server.start()
    ...     await server.set_serving(True)
    ...     status = await server.probe("vohub.v1.Demo")
    ...     await server.stop(grace=0)
    ...     return status
    >>> asyncio.run(demo())
    'SERVING'
    """

    def __init__(
        self,
        bind: Address,
        registrations: Iterable[Registration],
        *,
        services: Iterable[str],
        max_message_bytes: int = MAX_MESSAGE_BYTES,
    ) -> None:
        self.server = grpc.aio.server(options=_options(max_message_bytes))
        self.health = HealthServicer()
        self.services = list(services)
        self.port: int = _install(self.server, self.health, registrations, bind)
        self.host = bind.host

    async def start(self) -> int:
        """Start serving (every service NOT_SERVING) and return the bound port.

        >>> async def demo() -> tuple[bool, str]:
        ...     server = GrpcServer(Address("127.0.0.1", 0), [], services=["vohub.v1.Demo"])
        ...     port = await server.start()
        ...     status = await server.probe("vohub.v1.Demo")
        ...     await server.stop(grace=0)
        ...     return port == server.port, status
        >>> asyncio.run(demo())
        (True, 'NOT_SERVING')
        """
        await self.set_serving(False)
        await self.server.start()
        return self.port

    async def set_serving(self, serving: bool) -> None:
        """Mark every service (and the server as a whole) SERVING or NOT_SERVING.

        >>> async def demo() -> str:
        ...     server = GrpcServer(Address("127.0.0.1", 0), [], services=["vohub.v1.Demo"])
        ...     await server.start()
        ...     await server.set_serving(True)
        ...     status = await server.probe()  # the server as a whole
        ...     await server.stop(grace=0)
        ...     return status
        >>> asyncio.run(demo())
        'SERVING'
        """
        for name in [*self.services, ""]:
            await self.health.set(name, _status(serving))

    async def probe(self, service: str = "") -> str:
        """Ask this server's health service over a real channel; returns the status name.

        >>> async def demo() -> list[str]:
        ...     server = GrpcServer(Address("127.0.0.1", 0), [], services=["vohub.v1.A"])
        ...     await server.start()
        ...     before = await server.probe("vohub.v1.A")
        ...     await server.set_serving(True)
        ...     after = await server.probe("vohub.v1.A")
        ...     await server.stop(grace=0)
        ...     return [before, after]
        >>> asyncio.run(demo())
        ['NOT_SERVING', 'SERVING']
        """
        target = str(Address(self.host, self.port))
        async with grpc.aio.insecure_channel(target) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            reply = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))

    async def stop(self, grace: float = 5.0) -> None:
        """Report NOT_SERVING to watchers, then stop, letting calls in flight finish.

        >>> async def demo() -> str:
        ...     server = GrpcServer(Address("127.0.0.1", 0), [], services=[])
        ...     await server.start()
        ...     await server.stop(grace=0)
        ...     try:
        ...         return await server.probe()
        ...     except grpc.aio.AioRpcError as exc:
        ...         return exc.code().name
        >>> asyncio.run(demo())
        'UNAVAILABLE'
        """
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)

    async def wait_for_signal(self) -> None:
        """Block until SIGTERM or SIGINT arrives.

        >>> import os
        >>> async def demo() -> str:
        ...     server = GrpcServer(Address("127.0.0.1", 0), [], services=[])
        ...     await server.start()
        ...     asyncio.get_running_loop().call_soon(os.kill, os.getpid(), signal.SIGTERM)
        ...     await server.wait_for_signal()
        ...     await server.stop(grace=0)
        ...     return "stopped on SIGTERM"
        >>> asyncio.run(demo())
        'stopped on SIGTERM'
        """
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()


class ThreadedGrpcServer:
    """A bound ``grpc.server`` whose calls run in a pool of ``workers`` threads, plus health.

    The threads share one interpreter lock: a few keep the process busy while calls wait on
    I/O, and more only add contention.

    >>> server = ThreadedGrpcServer(Address("127.0.0.1", 0), [], services=["vohub.v1.Demo"])
    >>> server.start() == server.port
    True
    >>> server.probe("vohub.v1.Demo")
    'NOT_SERVING'
    >>> server.set_serving(True)
    >>> server.probe("vohub.v1.Demo")
    'SERVING'
    >>> server.stop(grace=0)
    """

    def __init__(
        self,
        bind: Address,
        registrations: Iterable[ThreadedRegistration],
        *,
        services: Iterable[str],
        workers: int = 4,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
    ) -> None:
        pool = futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grpc")
        self.server = grpc.server(pool, options=_options(max_message_bytes))
        self.health = health.HealthServicer()
        self.services = list(services)
        self.port: int = _install(self.server, self.health, registrations, bind)
        self.host = bind.host

    def start(self) -> int:
        """Start serving (every service NOT_SERVING) and return the bound port.

        >>> server = ThreadedGrpcServer(Address("127.0.0.1", 0), [], services=["vohub.v1.A"])
        >>> server.start() > 0, server.probe("vohub.v1.A")
        (True, 'NOT_SERVING')
        >>> server.stop(grace=0)
        """
        self.set_serving(False)
        self.server.start()
        return self.port

    def set_serving(self, serving: bool) -> None:
        """Mark every service (and the server as a whole) SERVING or NOT_SERVING.

        >>> server = ThreadedGrpcServer(Address("127.0.0.1", 0), [], services=["vohub.v1.A"])
        >>> _ = server.start()
        >>> server.set_serving(True)
        >>> server.probe()  # the server as a whole
        'SERVING'
        >>> server.stop(grace=0)
        """
        for name in [*self.services, ""]:
            self.health.set(name, _status(serving))

    def probe(self, service: str = "") -> str:
        """Ask this server's health service over a real channel; returns the status name.

        >>> server = ThreadedGrpcServer(Address("127.0.0.1", 0), [], services=[])
        >>> _ = server.start()
        >>> server.probe()
        'NOT_SERVING'
        >>> server.stop(grace=0)
        """
        with grpc.insecure_channel(str(Address(self.host, self.port))) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))

    def stop(self, grace: float = 5.0) -> None:
        """Report NOT_SERVING to watchers, then stop, letting calls in flight finish.

        >>> server = ThreadedGrpcServer(Address("127.0.0.1", 0), [], services=[])
        >>> _ = server.start()
        >>> server.stop(grace=0)
        >>> try:
        ...     server.probe()
        ... except grpc.RpcError as exc:
        ...     print(exc.code().name)
        UNAVAILABLE
        """
        self.health.enter_graceful_shutdown()
        self.server.stop(grace).wait()

    def wait_for_signal(
        self, *, then_ignore: bool = False, stop: threading.Event | None = None
    ) -> None:
        """Block until SIGTERM or SIGINT arrives (or ``stop`` is set); call it from the main
        thread.

        The previous handlers come back afterwards, or with ``then_ignore`` both signals are
        ignored from then on, so that a second one cannot cut short the stop that follows.

        >>> import os
        >>> server = ThreadedGrpcServer(Address("127.0.0.1", 0), [], services=[])
        >>> _ = server.start()
        >>> threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGTERM)).start()
        >>> server.wait_for_signal()
        >>> server.stop(grace=0)
        """
        wake = stop or threading.Event()
        signals = (signal.SIGTERM, signal.SIGINT)
        previous = {sig: signal.signal(sig, lambda *_: wake.set()) for sig in signals}
        try:
            while not wake.wait(1.0):
                pass
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, signal.SIG_IGN if then_ignore else handler)

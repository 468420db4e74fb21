"""The gateway's view of the archive: a Protocol, and its real gRPC implementation.

The gateway may read from several archive servers (``--archive 10.0.0.2:50051,10.0.0.3:50051``,
or one host name with several DNS records): the channel spreads calls over them round-robin and
leaves out any that is down, so archives add capacity and stand in for one another.

Resources depend only on :class:`ArchiveClient`; tests inject a fake at this seam. The client
is asyncio gRPC: a worker's event loop keeps every request in flight on one channel, with no
thread per request. The channel is opened lazily, on the event loop that first uses it, so that
a gunicorn worker never inherits one from the master across ``fork`` (gRPC forbids that) and
a channel is never used from another loop than its own. Every call has a
deadline; UNAVAILABLE is retried (first once the channel has reconnected, for a moment at
most, then with exponential backoff), then reported as
:class:`ArchiveUnavailable`, which the error table turns into 503 with ``Retry-After``. A
missed deadline is :class:`ArchiveTimedOut` (504), not retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from vohub.common.addresses import parse_address
from vohub.common.errors import AddressError
from vohub.gateway.errors import (
    ArchiveFailure,
    ArchiveInvalidArgument,
    ArchiveNotFound,
    ArchiveTimedOut,
    ArchiveUnavailable,
)
from vohub.v1 import archive_pb2, archive_pb2_grpc

Reply = TypeVar("Reply")

#: The channel's settings. gRPC's own reconnect backoff starts at 1 s and grows to 120 s, and
#: a call made during a backoff fails at once: a gateway started before its archive would
#: answer 503 for seconds after the archive came up. Capped here, it reconnects within ~1 s.
CHANNEL_OPTIONS = [
    ("grpc.enable_retries", 0),
    ("grpc.max_receive_message_length", -1),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
    ("grpc.lb_policy_name", "round_robin"),
]


def channel_target(addresses: str) -> str:
    """The gRPC target for one archive's ``HOST:PORT``, or for a comma-separated list of them.

    One address is used as it is (a host name may resolve to several archives). A list names
    each archive by IP address, all IPv4 or all IPv6: gRPC resolves no list of host names.

    >>> channel_target("archive.internal:50051")
    'archive.internal:50051'
    >>> channel_target("10.0.0.2:50051, 10.0.0.3:50051")
    'ipv4:10.0.0.2:50051,10.0.0.3:50051'
    >>> channel_target("[::1]:50051,[::1]:50052")
    'ipv6:[::1]:50051,[::1]:50052'
    >>> channel_target("10.0.0.2:50051,archive-b:50051")
    Traceback (most recent call last):
    ...
    vohub.common.errors.AddressError: archive: 'archive-b' is not an IP address (in a list)
    """
    parts = [part.strip() for part in addresses.split(",")]
    if len(parts) == 1:
        parse_address(parts[0], key="archive")
        return parts[0]
    versions: set[int] = set()
    rendered: list[str] = []
    for part in parts:
        address = parse_address(part, key="archive")
        try:
            ip = ipaddress.ip_address(address.host)
        except ValueError:
            raise AddressError(
                "archive",
                f"{address.host!r} is not an IP address (in a list)",
            ) from None
        versions.add(ip.version)
        rendered.append(str(address))
    if len(versions) > 1:
        raise AddressError("archive", f"{addresses!r} mixes IPv4 and IPv6 addresses")
    return f"ipv{versions.pop()}:" + ",".join(rendered)


class ArchiveClient(Protocol):
    """What the gateway asks of the archive; errors are :mod:`vohub.gateway.errors` types."""

    async def count(self, request: archive_pb2.CountRequest) -> archive_pb2.CountResponse:
        """Number of packets matching the filter."""
        ...

    async def list(self, request: archive_pb2.ListRequest) -> archive_pb2.ListResponse:
        """One page of matching packets."""
        ...

    async def map(self, request: archive_pb2.MapRequest) -> archive_pb2.MapResponse:
        """Grouped counts of matching packets."""
        ...

    async def synopsis(self, request: archive_pb2.PacketRequest) -> archive_pb2.PacketSynopsis:
        """One packet's synopsis; ArchiveNotFound if absent."""
        ...

    async def get_xml(self, request: archive_pb2.PacketRequest) -> archive_pb2.XmlResponse:
        """One packet's XML; ArchiveNotFound if absent."""
        ...

    async def healthy(self) -> tuple[bool, str]:
        """Whether the archive answers its health check now, and a word on why not."""
        ...


class GrpcArchiveClient:
    """:class:`ArchiveClient` over a real gRPC channel to ``target`` (see :func:`channel_target`).

    >>> import asyncio
    >>> client = GrpcArchiveClient("127.0.0.1:1", deadline_s=0.2, retries=0)
    >>> asyncio.run(client.healthy())[0]
    False
    """

    def __init__(
        self,
        target: str,
        *,
        deadline_s: float = 5.0,
        retries: int = 2,
        backoff_s: float = 0.05,
        reconnect_s: float = 1.5,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.target = channel_target(target)
        self.deadline_s = deadline_s
        self.reconnect_s = reconnect_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.sleep = sleep
        self._loop: asyncio.AbstractEventLoop | None = None
        self._channel: grpc.aio.Channel | None = None
        self._stub: archive_pb2_grpc.ArchiveAsyncStub | None = None

    def _archive(self) -> archive_pb2_grpc.ArchiveAsyncStub:
        """The stub on a channel of the running event loop (a channel is bound to its loop)."""
        loop = asyncio.get_running_loop()
        if self._stub is None or self._loop is not loop:
            self._channel = grpc.aio.insecure_channel(self.target, options=CHANNEL_OPTIONS)
            self._stub = archive_pb2_grpc.ArchiveStub(self._channel)
            self._loop = loop
        return self._stub

    async def close(self) -> None:
        """Close the channel (a later call opens a new one)."""
        if self._channel is not None and self._loop is asyncio.get_running_loop():
            await self._channel.close()
        self._channel = self._stub = self._loop = None

    async def _call(self, method: Callable[..., Awaitable[Reply]], request: object) -> Reply:
        attempt = 0
        while True:
            try:
                return await method(request, timeout=self.deadline_s)
            except grpc.aio.AioRpcError as exc:
                code, detail = exc.code(), exc.details() or ""
                if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                    raise ArchiveTimedOut(f"no answer within {self.deadline_s:g} s") from None
                if code != grpc.StatusCode.UNAVAILABLE or attempt >= self.retries:
                    raise _translate(code, detail) from None
            if attempt == 0:
                await self._await_connection()
            else:
                await self.sleep(self.backoff_s * 2**attempt)
            attempt += 1

    async def _await_connection(self) -> None:
        """Wait up to ``reconnect_s`` for the channel to (re)connect, e.g. to a restarted archive.

        A call on a channel between two connection attempts fails at once; waiting for the next
        attempt (at most ~1 s apart, see :data:`CHANNEL_OPTIONS`) lets the retry find the archive.
        """
        if self._channel is None:
            return
        with contextlib.suppress(TimeoutError):  # still down: the retries say so
            await asyncio.wait_for(self._channel.channel_ready(), self.reconnect_s)

    async def count(self, request: archive_pb2.CountRequest) -> archive_pb2.CountResponse:
        """Count rpc."""
        return await self._call(self._archive().Count, request)

    async def list(self, request: archive_pb2.ListRequest) -> archive_pb2.ListResponse:
        """List rpc."""
        return await self._call(self._archive().List, request)

    async def map(self, request: archive_pb2.MapRequest) -> archive_pb2.MapResponse:
        """Map rpc."""
        return await self._call(self._archive().Map, request)

    async def synopsis(self, request: archive_pb2.PacketRequest) -> archive_pb2.PacketSynopsis:
        """Synopsis rpc."""
        return await self._call(self._archive().Synopsis, request)

    async def get_xml(self, request: archive_pb2.PacketRequest) -> archive_pb2.XmlResponse:
        """GetXml rpc."""
        return await self._call(self._archive().GetXml, request)

    async def healthy(self) -> tuple[bool, str]:
        """Ask the archive's standard gRPC health service (overall status) with a short deadline.

        UNAVAILABLE is asked again once the channel has reconnected (see
        :meth:`_await_connection`): a worker whose channel failed before the archive came up
        would otherwise say 503 for up to a second while its siblings say 200.
        """
        self._archive()
        stub = health_pb2_grpc.HealthStub(self._channel)
        request = health_pb2.HealthCheckRequest(service="")
        for attempt in range(2):
            try:
                reply = await stub.Check(request, timeout=1.0)
                break
            except grpc.aio.AioRpcError as exc:
                if exc.code() != grpc.StatusCode.UNAVAILABLE or attempt:
                    return False, f"{exc.code().name}: {exc.details() or ''}"
            await self._await_connection()
        status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
        return reply.status == health_pb2.HealthCheckResponse.SERVING, status


def _translate(code: grpc.StatusCode, detail: str) -> Exception:
    if code == grpc.StatusCode.NOT_FOUND:
        return ArchiveNotFound(detail)
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return ArchiveInvalidArgument(detail)
    if code == grpc.StatusCode.UNAVAILABLE:
        return ArchiveUnavailable(f"{code.name}: {detail}")
    return ArchiveFailure(f"{code.name}: {detail}")

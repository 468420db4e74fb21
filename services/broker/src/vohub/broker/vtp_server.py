"""The VTP edges: the receive port (one author event per connection) and the broadcast port.

Each author connection feeds a :class:`vohub.vtp.ReceiverConnection`; its event goes through
the :class:`~.pipeline.accept.Acceptor`, and the ack or nak is written once the verdict is in
(for an accepted packet, once it is durable), after which the broker closes, as Comet does.
Unreadable data, non-VOEvent messages and oversize frames get a close with no reply; so does
a connection that has not delivered its event by its deadline (Comet: 20 s from connect).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

from vohub.broker.pipeline import Source
from vohub.broker.pipeline.accept import Acceptor
from vohub.broker.vtp_subscriber import VtpSubscriber
from vohub.common.addresses import Address
from vohub.common.logs import get_logger
from vohub.vtp import Event, ReceiverConnection, VTPError

log = get_logger("vohub.broker.author")


@dataclass(frozen=True)
class AuthorPolicy:
    """Settings shared by every author connection."""

    local_ivo: str
    timeout: float
    max_frame_size: int
    duplicate_ack: bool


class VtpAuthor(asyncio.Protocol):
    """One connection on the receive port."""

    def __init__(self, policy: AuthorPolicy, acceptor: Acceptor) -> None:
        self.policy, self.acceptor = policy, acceptor
        self.transport: asyncio.Transport | None = None
        self.task: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.transport = transport
        self.host, port = transport.get_extra_info("peername")[:2]
        self.peer = f"{self.host}:{port}"
        self.conn = ReceiverConnection(
            local_ivo=self.policy.local_ivo,
            now=time.time(),
            timeout=self.policy.timeout,
            peer=self.peer,
            max_frame_size=self.policy.max_frame_size,
        )
        self.timer = asyncio.get_running_loop().call_later(self.policy.timeout, self._expire)

    def data_received(self, data: bytes) -> None:
        try:
            event = self.conn.receive_data(data)
        except VTPError as exc:
            log.warning("author.unreadable", peer=self.peer, error=str(exc))
            self._close()
            return
        if event is not None:
            self.task = asyncio.get_running_loop().create_task(self._judge(event))

    async def _judge(self, event: Event) -> None:
        source = Source("author", self.peer, self.host)
        outcome = await self.acceptor.submit(event.raw, source, event)
        if outcome.accepted or (outcome.status == "duplicate" and self.policy.duplicate_ack):
            self.conn.accept(time.time())
        else:
            self.conn.reject(outcome.reason, time.time())
        self._close()

    def _expire(self) -> None:
        if self.task is None:
            log.warning("author.timeout", peer=self.peer, timeout_s=self.policy.timeout)
            self._close()

    def _close(self) -> None:
        assert self.transport is not None
        if not self.transport.is_closing():
            self.transport.write(self.conn.data_to_send())
            self.transport.close()

    def eof_received(self) -> bool | None:
        with contextlib.suppress(VTPError):
            self.conn.receive_eof()
        if self.task is None:
            self._close()
        return True  # keep our side open until the verdict is written

    def connection_lost(self, exc: Exception | None) -> None:
        self.timer.cancel()


@dataclass
class VtpServers:
    """The bound VTP listeners and the heartbeat task."""

    receive: asyncio.Server | None = None
    broadcast: asyncio.Server | None = None
    subscribers: list[VtpSubscriber] = field(default_factory=list)
    heartbeat: asyncio.Task[None] | None = None

    def port(self, name: str) -> int:
        """The actual port of ``receive`` or ``broadcast`` (useful after binding port 0)."""
        server: asyncio.Server | None = getattr(self, name)
        assert server is not None
        return int(server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        """Stop listening, drop every subscriber and stop the heartbeat."""
        if self.heartbeat is not None:
            self.heartbeat.cancel()
        for server in (self.receive, self.broadcast):
            if server is not None:
                server.close()
        for sub in list(self.subscribers):
            if sub.transport is not None:
                sub.transport.abort()
        for server in (self.receive, self.broadcast):
            if server is not None:
                await server.wait_closed()


async def start_receive(bind: Address, make: Callable[[], VtpAuthor]) -> asyncio.Server:
    """Listen for authors on ``bind``."""
    return await asyncio.get_running_loop().create_server(make, bind.host, bind.port)


async def start_broadcast(
    bind: Address, make: Callable[[], VtpSubscriber], servers: VtpServers, interval: float
) -> None:
    """Listen for subscribers on ``bind`` and tick their heartbeats every ``interval`` s."""

    def tracked() -> VtpSubscriber:
        sub = make()
        servers.subscribers.append(sub)
        return sub

    servers.broadcast = await asyncio.get_running_loop().create_server(
        tracked, bind.host, bind.port
    )
    servers.heartbeat = asyncio.get_running_loop().create_task(_heartbeat(servers, interval))


async def _heartbeat(servers: VtpServers, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        now = time.time()
        servers.subscribers = [s for s in servers.subscribers if not _gone(s)]
        for sub in servers.subscribers:
            sub.tick(now)


def _gone(sub: VtpSubscriber) -> bool:
    return sub.transport is None or sub.transport.is_closing()

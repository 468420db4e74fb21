"""Subscribe to upstream brokers (``--remote``) and feed what they send into the pipeline.

The VTP client (:func:`vohub.vtp.client.subscribe`) answers ``authenticate`` with our
filters, answers ``iamalive``, acks *every* event (duplicates and invalid ones too: a nak
would get us cut off, VTP Note §6.4) and reconnects with backoff after an error or 120 s of
silence. Each event is then judged like an author's; a refusal is only logged and counted.
Events are submitted in arrival order without waiting for each to be durable, so a slow
disk never makes us stop reading (and answering iamalives).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from vohub.broker.pipeline import Outcome, Source
from vohub.broker.pipeline.accept import Acceptor
from vohub.common.addresses import Address
from vohub.common.logs import get_logger
from vohub.vtp.client import subscribe

log = get_logger("vohub.broker.upstream")


class Upstream:
    """One task per remote broker; :meth:`start` them, :meth:`close` to stop."""

    def __init__(
        self,
        remotes: Sequence[Address],
        acceptor: Acceptor,
        *,
        local_ivo: str,
        filters: Sequence[str],
        idle_timeout: float,
        max_frame_size: int,
    ) -> None:
        self.remotes = list(remotes)
        self.acceptor = acceptor
        self.local_ivo = local_ivo
        self.filters = tuple(filters)
        self.idle_timeout = idle_timeout
        self.max_frame_size = max_frame_size
        self.tasks: list[asyncio.Task[None]] = []
        self._pending: set[asyncio.Task[Outcome]] = set()

    def start(self) -> None:
        """Start following every remote."""
        loop = asyncio.get_running_loop()
        self.tasks = [loop.create_task(self._follow(remote)) for remote in self.remotes]

    async def _follow(self, remote: Address) -> None:
        peer = str(remote)
        subscription = subscribe(
            remote.host,
            remote.port,
            filters=self.filters,
            local_ivo=self.local_ivo,
            idle_timeout=self.idle_timeout,
            max_frame_size=self.max_frame_size,
        )
        log.info("upstream.following", peer=peer, filters=list(self.filters))
        async with subscription:
            async for event in subscription:
                source = Source("upstream", peer, remote.host)
                task = asyncio.get_running_loop().create_task(
                    self.acceptor.submit(event.raw, source, event)
                )
                self._pending.add(task)
                task.add_done_callback(self._pending.discard)

    async def close(self) -> None:
        """Stop following and wait for the packets in flight to be judged."""
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await asyncio.gather(*list(self._pending), return_exceptions=True)

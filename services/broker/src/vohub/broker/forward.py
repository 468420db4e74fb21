"""Forward the spool to the archive's ``Ingest`` in batches, retrying until each batch is stored.

Theory of operation
-------------------
One task loops: read the next batch of durable records from the spool, call ``Ingest``,
and move the spool checkpoint past the batch once the archive has answered for every packet.
STORED and DUPLICATE both count as delivered, so a batch resent after a crash (the archive
stored it, the checkpoint had not moved yet) creates no duplicate. CONFLICT and INVALID are
final answers: logged, counted, never retried.

A failed call (archive down, timeout) is retried with exponential backoff and jitter up to
``max_backoff``; meanwhile the archive's gRPC health is polled and the retry happens as soon
as it reports SERVING, so a restarted archive is caught up at once. INVALID_ARGUMENT (batch
over the archive's limit) splits the batch in halves; a single packet refused that way is
logged and skipped, since resending it can never succeed.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from typing import Protocol

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_health.v1 import health_pb2, health_pb2_grpc

from vohub.broker.metrics import Metrics
from vohub.broker.spool import Record, Spool
from vohub.common.logs import get_logger
from vohub.v1 import archive_pb2, archive_pb2_grpc

log = get_logger(__name__)

_OUTCOMES = {
    archive_pb2.IngestResult.STORED: "stored",
    archive_pb2.IngestResult.DUPLICATE: "duplicate",
    archive_pb2.IngestResult.CONFLICT: "conflict",
    archive_pb2.IngestResult.INVALID: "invalid",
}


class ArchiveClient(Protocol):
    """What the forwarder needs from the archive."""

    async def ingest(self, records: Sequence[Record], deadline: float) -> list[tuple[str, str]]:
        """Store ``records``; one ``(outcome, reason)`` per record, in order."""

    async def serving(self) -> bool:
        """Whether the archive's health service reports SERVING."""


class GrpcArchive:
    """The archive over gRPC (``archive.Ingest`` plus standard health checking)."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.channel = grpc.aio.insecure_channel(
            target, options=[("grpc.max_send_message_length", 64 << 20)]
        )
        self.stub = archive_pb2_grpc.ArchiveStub(self.channel)
        self.health = health_pb2_grpc.HealthStub(self.channel)

    async def ingest(self, records: Sequence[Record], deadline: float) -> list[tuple[str, str]]:
        """Call ``Ingest`` with ``records`` (raises grpc.aio.AioRpcError on failure)."""
        packets = []
        for record in records:
            stamp = Timestamp()
            stamp.FromNanoseconds(int(record.received * 1e9))
            packets.append(archive_pb2.IngestPacket(xml=record.xml, received=stamp))
        reply = await self.stub.Ingest(archive_pb2.IngestRequest(packets=packets), timeout=deadline)
        return [(_OUTCOMES.get(r.outcome, "unspecified"), r.reason) for r in reply.results]

    async def serving(self) -> bool:
        """Ask the archive's health service (False if it cannot be reached)."""
        try:
            reply = await self.health.Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
        except grpc.aio.AioRpcError:
            return False
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

    async def close(self) -> None:
        """Close the channel."""
        await self.channel.close()


class Forwarder:
    """Moves spooled records to the archive; run :meth:`run` as a task."""

    def __init__(
        self,
        spool: Spool,
        archive: ArchiveClient,
        metrics: Metrics,
        *,
        batch: int = 200,
        max_bytes: int = 16 << 20,
        timeout: float = 10.0,
        max_backoff: float = 30.0,
        health_poll: float = 0.2,
    ) -> None:
        self.spool = spool
        self.archive = archive
        self.metrics = metrics
        self.batch = batch
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.max_backoff = max_backoff
        self.health_poll = health_poll
        self.reader = spool.reader()

    async def run(self) -> None:
        """Forward forever (cancel to stop); each batch is acked in the spool once stored."""
        while True:
            self.spool.durable_event.clear()
            batch = self.reader.read(self.batch, self.max_bytes)
            if not batch:
                await self.spool.durable_event.wait()
                continue
            await self.deliver(batch)
            await self.spool.ack(batch[-1].seq)
            self.metrics.spool_depth.set(self.spool.depth)

    async def deliver(self, batch: Sequence[Record]) -> None:
        """Send ``batch`` until the archive has answered for every record (those a short
        reply left out are sent again)."""
        attempt = 0
        while True:
            try:
                results = await self.archive.ingest(batch, self.timeout)
            except grpc.aio.AioRpcError as exc:
                code = exc.code()
                self.metrics.archive_errors.labels(code=code.name).inc()
                if code == grpc.StatusCode.INVALID_ARGUMENT:
                    await self._split(batch, exc.details() or "")
                    return
                delay = self._backoff(attempt)
                attempt += 1
                log.warning(
                    "archive.retry",
                    code=code.name,
                    detail=exc.details(),
                    batch=len(batch),
                    first_seq=batch[0].seq,
                    wait_s=round(delay, 3),
                )
                await self._wait_for_archive(delay)
                continue
            self._account(batch, results)
            if len(results) >= len(batch):
                return
            batch = batch[len(results) :]  # never answered for: not stored, as far as we know
            delay = self._backoff(attempt)
            attempt += 1
            await self._wait_for_archive(delay)

    async def _split(self, batch: Sequence[Record], detail: str) -> None:
        if len(batch) == 1:
            log.error("archive.refused", ivorn=batch[0].ivorn, seq=batch[0].seq, detail=detail)
            self.metrics.archived.labels(outcome="refused").inc()
            return
        half = len(batch) // 2
        await self.deliver(batch[:half])
        await self.deliver(batch[half:])

    def _account(self, batch: Sequence[Record], results: list[tuple[str, str]]) -> None:
        for record, (outcome, reason) in zip(batch, results, strict=False):
            self.metrics.archived.labels(outcome=outcome).inc()
            if outcome == "conflict":  # the archive keeps the bytes aside, under the first copy
                log.info("archive.conflict_kept", ivorn=record.ivorn)
            elif outcome in ("invalid", "unspecified"):
                log.warning(
                    "archive.not_stored", ivorn=record.ivorn, outcome=outcome, reason=reason
                )
        if len(results) < len(batch):
            log.error("archive.short_reply", sent=len(batch), answered=len(results),
                      resending=len(batch) - len(results))  # fmt: skip
        elif len(results) > len(batch):
            log.error("archive.long_reply", sent=len(batch), answered=len(results))

    def _backoff(self, attempt: int) -> float:
        base: float = min(self.max_backoff, 0.1 * 2**attempt)
        return base * random.uniform(0.8, 1.2)

    async def _wait_for_archive(self, delay: float) -> None:
        """Sleep up to ``delay``, returning early once the archive reports SERVING."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + delay
        while loop.time() < deadline:
            await asyncio.sleep(min(self.health_poll, max(0.0, deadline - loop.time())))
            if await self.archive.serving():
                return

"""The broker's composition root: every part is built and wired here, and only here.

Read this first. A packet's path: a VTP author connection (:mod:`.vtp_server`), an upstream
broker (:mod:`.upstream`) or gRPC ``Publish`` (:mod:`.grpc_api`) hands it to the
:class:`~.pipeline.accept.Acceptor`, which runs the validators in order (author whitelist,
schema and IVORN, previously seen), appends the packet to the durable :mod:`.spool` and,
once fsync'd, runs the handlers (fan-out to VTP and gRPC subscribers, ``--exec`` commands)
and answers. The :mod:`.forward` task moves the spool to the archive.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from vohub.broker.config import BrokerConfig
from vohub.broker.dedup import SeenStore, digest
from vohub.broker.fanout import Accepted, Fanout
from vohub.broker.filters import FilterSandbox
from vohub.broker.forward import ArchiveClient, Forwarder, GrpcArchive
from vohub.broker.grpc_api import BrokerServicer
from vohub.broker.handlers import ExecHandler
from vohub.broker.judge import JudgeProcess
from vohub.broker.metrics import Metrics
from vohub.broker.pipeline import Handler
from vohub.broker.pipeline.accept import Acceptor
from vohub.broker.pipeline.schema import CheckSchema
from vohub.broker.pipeline.seen import CheckPreviouslySeen
from vohub.broker.pipeline.whitelist import CheckWhitelist
from vohub.broker.spool import Spool
from vohub.broker.upstream import Upstream
from vohub.broker.vtp_server import (
    AuthorPolicy,
    VtpAuthor,
    VtpServers,
    start_broadcast,
    start_receive,
)
from vohub.broker.vtp_subscriber import SubscriberPolicy, VtpSubscriber
from vohub.common.folders import make_folder
from vohub.common.grpc_serve import GrpcServer
from vohub.common.logs import get_logger
from vohub.common.ops_http import OpsServer
from vohub.v1 import broker_pb2_grpc

log = get_logger("vohub.broker")

#: The gRPC service name reported by the health service.
SERVICE = "vohub.v1.Broker"
#: Seconds between deletions of expired dedup rows (Comet: 6 h).
PRUNE_INTERVAL = 6 * 3600.0
#: Seconds between WAL checkpoints of the dedup store (run off the event loop).
CHECKPOINT_INTERVAL = 2.0
#: Without an archive, seconds between trims of the spool (each one writes its checkpoint).
TRIM_INTERVAL = 0.5
#: Seconds between looks at :meth:`BrokerApp.health` for gRPC health checking.
HEALTH_INTERVAL = 1.0


@dataclass
class Ports:
    """Where the broker actually listens (0 when a listener is off)."""

    receive: int = 0
    broadcast: int = 0
    grpc: int = 0
    metrics: int = 0


class BrokerApp:
    """A whole broker; ``await start()``, then ``await stop()``."""

    def __init__(
        self,
        config: BrokerConfig,
        *,
        archive: ArchiveClient | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.metrics = Metrics()
        data = make_folder(config.data_dir)
        # The spool first: its lock keeps a second broker off this data folder.
        self.spool = Spool.open(data / "spool", segment_bytes=config.spool_segment_bytes)
        self.seen = SeenStore(
            data / "seen.sqlite3", expiry=config.dedup_expiry_days * 86400, clock=clock
        )
        self.metrics.spool_depth.set(self.spool.depth)  # what a crash left for the archive
        self.seen.add((r.ivorn, digest(r.xml), r.received) for r in self.spool.recovered)
        self.sandbox: FilterSandbox[Accepted] = FilterSandbox(
            budget=config.filter_timeout, on_dropped=lambda i, c, r: None, folder=data
        )
        self.fanout = Fanout(self.sandbox, self.metrics)
        self.execs = [
            ExecHandler(
                argv,
                self.metrics,
                concurrency=config.exec_concurrency,
                timeout=config.exec_timeout,
                queue=config.exec_queue,
            )
            for argv in config.commands()
        ]
        strict = config.validation == "strict"
        self.judge = JudgeProcess(strict=strict) if config.judge_workers else None
        handlers: list[Handler] = [self.fanout, *(_exec_handler(e) for e in self.execs)]
        self.acceptor = Acceptor(
            screens=[CheckWhitelist(config.networks("author_whitelist"))],
            checks=[CheckSchema(strict=strict)],
            dedup=CheckPreviouslySeen(self.seen),  # last: it reserves the IVORN
            judge=self.judge,
            handlers=handlers,
            seen=self.seen,
            spool=self.spool,
            metrics=self.metrics,
            max_bytes=config.max_inbound_bytes,
            relay_early=config.relay == "accepted",
            clock=clock,
        )
        address = config.address("archive")
        self.archive = archive or (GrpcArchive(str(address)) if address else None)
        self.forwarder = (
            Forwarder(
                self.spool,
                self.archive,
                self.metrics,
                batch=config.archive_batch,
                timeout=config.archive_timeout,
                max_backoff=config.archive_max_backoff,
            )
            if self.archive is not None
            else None
        )
        self.vtp = VtpServers()
        self.grpc: GrpcServer | None = None
        self.ops: OpsServer | None = None
        self.upstream = Upstream(
            config.remotes(),
            self.acceptor,
            local_ivo=config.local_ivo,
            filters=config.filter,
            idle_timeout=config.upstream_idle_timeout,
            max_frame_size=config.max_inbound_bytes,
        )
        self.ports = Ports()
        self._tasks: list[asyncio.Task[Any]] = []
        self.failed: list[str] = []  # background tasks that ended before the stop
        self._stopped = False

    async def start(self) -> Ports:
        """Bind every listener, start the background tasks, then report SERVING."""
        await self.sandbox.start()
        if self.judge is not None:
            await self.judge.start()
        self._spawn(
            ("filtered fan-out", self.fanout.run()),
            ("dedup upkeep", self._prune_forever()),
            ("grpc health", self._mirror_health()),
            ("archive forwarder" if self.forwarder else "spool trimmer", self._forward_forever()),
        )
        await self._start_vtp()
        await self._start_grpc()
        self._start_ops()
        self.upstream.start()
        if self.grpc is not None:
            await self.grpc.set_serving(True)
        log.info(
            "broker.started",
            local_ivo=self.config.local_ivo,
            receive=self.ports.receive,
            broadcast=self.ports.broadcast,
            grpc=self.ports.grpc,
            metrics=self.ports.metrics,
            archive=self.config.archive or "-",
            spooled=self.spool.depth,
        )
        return self.ports

    def _spawn(self, *named: tuple[str, Any]) -> None:
        loop = asyncio.get_running_loop()
        for name, coroutine in named:
            task = loop.create_task(coroutine)
            task.add_done_callback(functools.partial(self._task_done, name))
            self._tasks.append(task)

    def _task_done(self, name: str, task: asyncio.Task[Any]) -> None:
        """A background task runs until the broker stops: one that ends before is a failure,
        logged and reported by /healthz (its work, archiving say, has stopped)."""
        if self._stopped or task.cancelled():
            return
        error = task.exception()
        self.failed.append(name)
        log.error("broker.task_failed", task=name,
                  error=f"{type(error).__name__}: {error}" if error else "ended")  # fmt: skip

    async def _start_vtp(self) -> None:
        c = self.config
        receive, broadcast = c.address("receive"), c.address("broadcast")
        if receive is not None:
            policy = AuthorPolicy(
                c.local_ivo,
                c.networks("author_whitelist"),
                c.author_timeout,
                c.max_inbound_bytes,
                c.duplicate_reply == "ack",
                c.author_pipelining,
            )
            self.vtp.receive = await start_receive(
                receive, lambda: VtpAuthor(policy, self.acceptor), self.vtp
            )
            self.ports.receive = self.vtp.port("receive")
        if broadcast is not None:
            sub_policy = SubscriberPolicy(
                c.local_ivo,
                c.networks("subscriber_whitelist"),
                c.subscriber_queue_bytes,
                c.ack_timeout,
                c.max_missed_acks,
                c.max_outbound_vtp_bytes,
                c.max_inbound_bytes,
            )
            await start_broadcast(
                broadcast,
                lambda: VtpSubscriber(sub_policy, self.fanout, self.metrics),
                self.vtp,
                c.iamalive_interval,
            )
            self.ports.broadcast = self.vtp.port("broadcast")

    async def _start_grpc(self) -> None:
        bind = self.config.address("grpc")
        if bind is None:
            return
        servicer = BrokerServicer(self.acceptor, self.fanout, self.metrics)
        self.grpc = GrpcServer(
            bind,
            [lambda server: broker_pb2_grpc.add_BrokerServicer_to_server(servicer, server)],
            services=[SERVICE],
        )
        self.ports.grpc = await self.grpc.start()

    def _start_ops(self) -> None:
        bind = self.config.address("metrics")
        if bind is None:
            return
        self.ops = OpsServer(bind.host, bind.port, self.health, registry=self.metrics.registry)
        self.ports.metrics = self.ops.start()

    def health(self) -> tuple[bool, dict[str, Any]]:
        """``/healthz``: unhealthy once a background task has failed, and while the spool
        cannot be written (until a write succeeds again); spool depth, subscribers."""
        details: dict[str, Any] = {
            "spool_depth": self.spool.depth,
            "subscribers": len(self.fanout.sinks),
        }
        if self.failed:
            details["failed"] = self.failed
        storage = self.acceptor.storage_error
        if storage is not None:
            details["storage_error"] = storage
        return not self.failed and storage is None, details

    async def _mirror_health(self) -> None:
        """Make gRPC health checking say what ``/healthz`` says: NOT_SERVING while the spool
        cannot be written or after a background task failed, SERVING again once mended."""
        serving = True  # as start() sets it
        while True:
            await asyncio.sleep(HEALTH_INTERVAL)
            healthy = self.health()[0]
            if healthy != serving and self.grpc is not None and not self._stopped:
                serving = healthy
                await self.grpc.set_serving(healthy)

    async def _forward_forever(self) -> None:
        if self.forwarder is not None:
            await self.forwarder.run()
            return
        log.warning("archive.none", detail="no --archive: spooled packets are dropped once durable")
        while True:
            await self.spool.durable_event.wait()
            self.spool.durable_event.clear()
            await self.spool.ack(self.spool.committed)
            self.metrics.spool_depth.set(self.spool.depth)
            await asyncio.sleep(TRIM_INTERVAL)  # one checkpoint write for many packets

    async def _prune_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            removed = self.seen.prune()
            log.info("dedup.pruned", removed=removed)
            for _ in range(int(PRUNE_INTERVAL / CHECKPOINT_INTERVAL)):
                await asyncio.sleep(CHECKPOINT_INTERVAL)
                await loop.run_in_executor(None, self.seen.checkpoint)

    async def stop(self, grace: float = 2.0) -> None:
        """Stop taking packets, let those in flight finish and subscribers receive what is
        queued for them, then close every store. A second call does nothing."""
        if self._stopped:
            return
        self._stopped = True
        if self.grpc is not None:
            await self.grpc.set_serving(False)
        self.vtp.stop_receiving()  # take no packet that subscribers could miss
        await self.upstream.close()
        if self.grpc is not None:
            await self.grpc.stop(grace)
        with contextlib.suppress(TimeoutError):  # packets still on their way to the filters
            async with asyncio.timeout(grace):
                await self.fanout.drain()
        await self.vtp.close(grace)
        await asyncio.gather(*(handler.stop(grace) for handler in self.execs))
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.spool.close()
        await self.sandbox.close()
        if self.judge is not None:
            await self.judge.close()
        if isinstance(self.archive, GrpcArchive):
            await self.archive.close()
        self.seen.close()
        if self.ops is not None:
            self.ops.stop()
        log.info("broker.stopped", spooled=self.spool.depth)


def _exec_handler(handler: ExecHandler) -> Handler:
    def run(batch: Sequence[Accepted]) -> None:
        for accepted in batch:
            handler(accepted.ivorn, accepted.event.raw, accepted.event.role)

    return run

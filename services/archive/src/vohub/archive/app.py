"""Composition root of the archive: engine, store, servicer, gRPC and ops servers, start-up."""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field

from sqlalchemy import Engine

from vohub.archive import schema
from vohub.archive.config import ArchiveConfig
from vohub.archive.db import make_engine, ping, shown
from vohub.archive.errors import (
    ArchiveError,
    ArchiveUnavailable,
    ArchiveUnusable,
    DatabaseMissing,
    MigrationFailed,
)
from vohub.archive.grpc_api import ArchiveServicer
from vohub.archive.metrics import Metrics
from vohub.archive.store import Store
from vohub.common.addresses import Address, parse_address
from vohub.common.grpc_serve import ThreadedGrpcServer
from vohub.common.logs import get_logger
from vohub.common.ops_http import OpsServer
from vohub.v1 import archive_pb2_grpc

log = get_logger(__name__)
SERVICE = "vohub.v1.Archive"
#: Seconds between database probes (readiness is re-checked all the time).
PROBE_EVERY = 5.0


@dataclass
class ArchiveApp:
    """The running service: call :meth:`start`, then :meth:`run_until_signal` or :meth:`stop`."""

    config: ArchiveConfig
    engine: Engine
    grpc: ThreadedGrpcServer
    ops: OpsServer | None
    ready: bool = False
    #: The service has been SERVING at least once.
    served: bool = False
    stopping: threading.Event = field(default_factory=threading.Event)
    #: Set when watching the database failed for good: an :class:`ArchiveUnusable` (the schema
    #: cannot be made current here, or is not current without migrating; the data folder
    #: cannot be written; the database is missing before the service has served), or an
    #: unexpected error. The service then stops rather than stay NOT_SERVING.
    fatal: Exception | None = None

    def refuse_unusable(self, migrate: bool) -> None:
        """Before listening, raise :class:`ArchiveUnusable` if the database server answers but
        the archive cannot serve: the database does not exist, or, without ``migrate``, its
        schema is not at the newest revision.  A server that does not answer yet is left to
        :meth:`watch_database`, which gives up on the same faults."""
        with contextlib.suppress(ArchiveUnavailable):
            ping(self.engine)
            if not migrate:
                schema.require_current(self.engine)

    def start(self) -> int:
        """Bind and start serving (NOT_SERVING until the database answers); returns the port."""
        port = self.grpc.start()
        if self.ops is not None:
            self.ops.start()
        log.info(
            "archive.listening", grpc=str(Address(self.grpc.host, port)), db=shown(self.engine)
        )
        return port

    def watch_database(self, migrate: bool) -> None:
        """Mark the service SERVING while the database answers, NOT_SERVING while it does not,
        until :attr:`stopping` is set."""
        reason = ""
        while not self.stopping.is_set():
            try:
                self._probe(migrate)
                healthy = True
            except MigrationFailed as error:
                self._give_up("archive.migrate_failed", str(error), error)
                return
            except ArchiveError as error:
                if isinstance(error, ArchiveUnusable) and not self._outage(error):
                    self._give_up("archive.unusable", str(error), error)  # waiting cannot mend it
                    return
                if self.ready or reason != str(error):
                    log.warning("archive.not_ready", reason=str(error))
                reason = str(error)
                healthy = False
            except Exception as error:  # noqa: BLE001 - a defect: exit (to be restarted)
                self._give_up("archive.watch_failed", f"{type(error).__name__}: {error}", error)
                return
            if healthy != self.ready:
                self.ready = healthy
                self.served = self.served or healthy
                self.grpc.set_serving(healthy)
                log.info("archive.serving" if healthy else "archive.not_serving")
            self.stopping.wait(PROBE_EVERY if healthy else 0.5)

    def _outage(self, error: ArchiveUnusable) -> bool:
        """A missing database is a mistyped name before the service has served (refused, as at
        start), and an outage after (dropped, to be created again): waited for, while the
        brokers spool."""
        return isinstance(error, DatabaseMissing) and self.served

    def _give_up(self, event: str, reason: str, error: Exception) -> None:
        log.error(event, reason=reason)
        self.fatal = error
        self.stopping.set()

    def _probe(self, migrate: bool) -> None:
        if migrate and not self.ready:
            schema.upgrade(self.engine)
        ping(self.engine)
        if not self.ready:
            schema.require_current(self.engine)

    def run_until_signal(self, migrate: bool = True) -> None:
        """Serve until SIGTERM/SIGINT (or a database that is not an archive), then stop
        gracefully (call from the main thread).

        Signals during the stop are ignored: a Ctrl-C reaches every process of the terminal,
        and ``vohub up`` then sends its own SIGTERM, which must not cut the stop short.
        """
        watcher = threading.Thread(
            target=self.watch_database, args=(migrate,), name="db-watch", daemon=True
        )
        watcher.start()
        try:
            self.grpc.wait_for_signal(then_ignore=True, stop=self.stopping)
        finally:
            self.stopping.set()
            watcher.join()
            self.stop()

    def stop(self, grace: float = 5.0) -> None:
        """Stop the servers and close the database connections."""
        self.grpc.stop(grace)
        if self.ops is not None:
            self.ops.stop()
        self.engine.dispose()
        log.info("archive.stopped")


def create_app(config: ArchiveConfig) -> ArchiveApp:
    """Wire the archive: engine → store → servicer → gRPC server (+ ops HTTP server)."""
    engine = make_engine(config.database_url, pool_size=config.pool_size)
    store = Store(engine, max_list_limit=config.max_list_limit)
    metrics = Metrics()
    servicer = ArchiveServicer(store, max_batch=config.max_batch, metrics=metrics)
    grpc = ThreadedGrpcServer(
        parse_address(config.grpc, key="archive.grpc"),
        [lambda server: archive_pb2_grpc.add_ArchiveServicer_to_server(servicer, server)],
        services=[SERVICE],
        workers=config.grpc_workers,
    )
    app = ArchiveApp(config, engine, grpc, None)
    if config.ops:
        address = parse_address(config.ops, key="archive.ops")
        app.ops = OpsServer(
            address.host,
            address.port,
            lambda: (app.ready, {"db": app.ready}),
            registry=metrics.registry,
        )
    return app

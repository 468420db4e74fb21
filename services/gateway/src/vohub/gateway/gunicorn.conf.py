# ruff: noqa: N999
"""gunicorn settings of the gateway; ``vohub gateway`` applies bind, workers and timeouts on top.

Workers are not preloaded: each one builds the app, and with it its gRPC channel, after the
fork (gRPC channels must not cross ``fork``).
"""

from __future__ import annotations

from typing import Any

worker_class = "vohub.gateway.worker.JsonErrorWorker"
logger_class = "vohub.gateway.glog.StructuredLogger"
preload_app = False
accesslog = "-"
# The longest request line gunicorn reads; longer ones get a JSON 414 from the worker class.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
keepalive = 5
proc_name = "vohub-gateway"
# No runtime control socket: several gateways may run on one host (tests, benchmarks).
control_socket_disable = True


def child_exit(server: Any, worker: Any) -> None:
    """Drop a dead worker's live gauges from the shared Prometheus multiprocess files."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]

"""Prometheus metrics of the gateway and the middleware that records them for every request.

Under gunicorn each worker is a process, so prometheus_client runs in multiprocess mode:
``PROMETHEUS_MULTIPROC_DIR`` is set by ``vohub gateway`` before any worker starts, each worker
writes its samples there, ``/metrics`` aggregates them all, and the gunicorn ``child_exit``
hook marks a dead worker's files (see ``gunicorn.conf.py``).
"""

from __future__ import annotations

import time

from falcon.asgi import Request, Response
from falcon.constants import HTTP_METHODS
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

from vohub.gateway.config import metrics_dir_from_env

#: This module's own registry (outside multiprocess mode), so that importing it twice is harmless.
LOCAL_REGISTRY = CollectorRegistry()

REQUESTS = Counter(
    "vohub_gateway_requests_total",
    "HTTP requests answered, by route template, method (OTHER for a non-standard one) and "
    "status code.",
    ["route", "method", "status"],
    registry=LOCAL_REGISTRY,
)
LATENCY = Histogram(
    "vohub_gateway_request_seconds",
    "Time to answer an HTTP request, by route template.",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=LOCAL_REGISTRY,
)


#: Method labels: the standard methods; any other token a client sends counts as ``OTHER``.
_METHOD_LABELS = frozenset(HTTP_METHODS)


def method_label(method: str) -> str:
    """The ``method`` label for a request: a client chooses the token, so the set is bounded.

    >>> method_label("GET"), method_label("BREW")
    ('GET', 'OTHER')
    """
    return method if method in _METHOD_LABELS else "OTHER"


class MetricsMiddleware:
    """Times every request and counts it by its route template (never by raw path) and its
    method (never a client's invented one).

    The labelled series are looked up once per label set and kept: ``labels()`` validates
    and locks on every call, and the set of routes, methods and statuses is small.
    """

    def __init__(self) -> None:
        self._requests: dict[tuple[str, str, str], Counter] = {}
        self._latency: dict[str, Histogram] = {}

    async def process_request(self, req: Request, resp: Response) -> None:
        """Note the start time."""
        req.context.started = time.perf_counter()

    async def process_response(
        self, req: Request, resp: Response, resource: object, ok: bool
    ) -> None:
        """Record the request's route, status and duration."""
        started = getattr(req.context, "started", None)
        route = req.uri_template or "unmatched"
        status = str(resp.status)[:3]
        key = (route, method_label(req.method), status)
        counter = self._requests.get(key)
        if counter is None:
            counter = self._requests[key] = REQUESTS.labels(*key)
        counter.inc()
        if started is not None:
            histogram = self._latency.get(route)
            if histogram is None:
                histogram = self._latency[route] = LATENCY.labels(route)
            histogram.observe(time.perf_counter() - started)


def exposition() -> bytes:
    """The text exposition of every worker's metrics (or this process's, outside gunicorn)."""
    if metrics_dir_from_env() is None:
        return generate_latest(LOCAL_REGISTRY)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry)

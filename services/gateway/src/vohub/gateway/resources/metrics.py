"""``/metrics``: the Prometheus text exposition of every gunicorn worker's metrics."""

from __future__ import annotations

import falcon
from prometheus_client import CONTENT_TYPE_LATEST

from vohub.gateway.metrics import exposition


class MetricsResource:
    """Prometheus scrape endpoint."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """All metrics, aggregated over workers."""
        resp.content_type = CONTENT_TYPE_LATEST
        resp.data = exposition()

"""``/metrics``: the Prometheus text exposition of every gunicorn worker's metrics."""

from __future__ import annotations

from falcon.asgi import Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from vohub.gateway.metrics import exposition


class MetricsResource:
    """Prometheus scrape endpoint."""

    async def on_get(self, req: Request, resp: Response) -> None:
        """All metrics, aggregated over workers."""
        resp.content_type = CONTENT_TYPE_LATEST
        resp.data = exposition()

"""``/healthz``: whether this gateway can reach the archive right now."""

from __future__ import annotations

from falcon.asgi import Request, Response

from vohub.gateway.archive_client import ArchiveClient
from vohub.gateway.resources.base import send_json


class HealthResource:
    """200 ``{"status": "ok", "archive": "SERVING"}`` when the archive answers, else 503."""

    def __init__(self, archive: ArchiveClient) -> None:
        self.archive = archive

    async def on_get(self, req: Request, resp: Response) -> None:
        """Probe the archive's gRPC health service; the answer holds for now only, so it is
        not to be cached (a proxy keeping the 503 would hide the archive's return)."""
        healthy, detail = await self.archive.healthy()
        body = {"status": "ok" if healthy else "unavailable", "archive": detail}
        if not healthy:
            resp.set_header("Retry-After", "5")
        resp.cache_control = ["no-store"]
        send_json(resp, body, 200 if healthy else 503)

"""The composition root: ``create_app(config, archive)`` builds the Falcon app and its routes."""

from __future__ import annotations

import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import falcon
from falcon.asgi import App, Request, Response

from vohub.gateway import errors
from vohub.gateway.archive_client import ArchiveClient, GrpcArchiveClient
from vohub.gateway.compress import CompressMiddleware
from vohub.gateway.config import GatewayConfig
from vohub.gateway.errors import UriTooLong
from vohub.gateway.metrics import MetricsMiddleware
from vohub.gateway.resources import apiv1, apiv2, openapi
from vohub.gateway.resources.base import raw_path
from vohub.gateway.resources.health import HealthResource
from vohub.gateway.resources.metrics import MetricsResource


class UriLimit:
    """Refuses request targets longer than the configured limit with a 414 JSON error."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes

    async def process_request(self, req: Request, resp: Response) -> None:
        """Check the raw target's length before any parsing."""
        target = f"{raw_path(req)}?{req.query_string}"
        if len(target) > self.max_bytes:
            message = f"request target is {len(target)} bytes; the limit is {self.max_bytes}"
            raise UriTooLong(message, "uri")


class AbsoluteForm:
    """Routes a request whose target is a whole URL (``GET http://host/apiv1/count``), which
    HTTP/1.1 servers must accept (RFC 9112, 3.2.2), by the URL's path: the server passes the
    target on as the path."""

    async def process_request(self, req: Request, resp: Response) -> None:
        """Keep only the path of an absolute-form target, before routing."""
        if not req.path.startswith("/") and "://" in req.path:
            req.path = urlsplit(req.path).path or "/"


class HeadAsGet:
    """Answers HEAD with the GET responder's headers (falcon then drops the body), as Flask did."""

    async def process_request(self, req: Request, resp: Response) -> None:
        """Route a HEAD request to the resource's ``on_get``."""
        if req.method == "HEAD":
            req.context.head = True
            req.method = "GET"

    async def process_response(
        self, req: Request, resp: Response, resource: object, req_succeeded: bool
    ) -> None:
        """Restore the method, so the response goes out without a body."""
        if req.context.get("head"):
            req.method = "HEAD"


def create_app(
    config: GatewayConfig, archive: ArchiveClient | None = None
) -> App[Request, Response]:
    """The gateway ASGI app; ``archive`` defaults to a gRPC client of ``config.archive``.

    >>> from vohub.gateway.config import GatewayConfig
    >>> app = create_app(GatewayConfig(archive="127.0.0.1:1"))
    >>> isinstance(app, App)
    True
    """
    if archive is None:
        archive = GrpcArchiveClient(
            config.archive,
            deadline_s=config.archive_deadline_s,
            retries=config.archive_retries,
        )
    middleware: list[Any] = [
        AbsoluteForm(),
        MetricsMiddleware(),
        UriLimit(config.max_uri_bytes),
        HeadAsGet(),
    ]
    if config.cors_origins:
        origins = "*" if "*" in config.cors_origins else config.cors_origins
        middleware.append(falcon.CORSMiddleware(origins, expose_headers=["ETag", "Link"]))
    middleware.append(CompressMiddleware())
    app = App(middleware=middleware)
    app.req_options.strip_url_path_trailing_slash = False
    app.resp_options.secure_cookies_by_default = False
    errors.register(app)
    docs = f"{config.public_url.rstrip('/')}/docs" if config.public_url else None

    # apiv1: voeventdb's routes, paths and trailing-slash rules exactly.
    app.add_route("/apiv1/", apiv1.RootResource(_version(), _git_sha(), docs))
    query = apiv1.QueryResource(archive)
    app.add_route("/apiv1/count", query, suffix="count")
    app.add_route("/apiv1/list/{kind}", query, suffix="list")
    app.add_route("/apiv1/map/{kind}", query, suffix="map")
    packet = apiv1.PacketResource(archive)
    app.add_route("/apiv1/packet/synopsis/{ivorn:path}", packet, suffix="synopsis")
    app.add_route("/apiv1/packet/xml/{ivorn:path}", packet, suffix="xml")
    redirect = apiv1.SlashRedirect()
    for bare in ("/apiv1", "/apiv1/packet/synopsis", "/apiv1/packet/xml"):
        app.add_route(bare, redirect)

    # apiv2: our own API, described by /openapi.json.
    v2 = apiv2.PacketsResource(archive)
    app.add_route("/apiv2/packets", v2)
    app.add_route("/apiv2/packets/count", v2, suffix="count")
    app.add_route("/apiv2/ivorns", v2, suffix="ivorns")
    for name in apiv2.COUNTED_LISTS:
        app.add_route(f"/apiv2/ivorns/{name}", v2, suffix=name)
    app.add_route("/apiv2/packet", v2, suffix="packet")
    app.add_route("/apiv2/packet/xml", v2, suffix="xml")
    app.add_route("/apiv2/maps/{kind}", apiv2.MapsResource(archive))
    app.add_route("/apiv2", apiv2.RootResource())
    app.add_route("/apiv2/", apiv2.SlashlessRedirect())
    app.add_route("/openapi.json", openapi.OpenApiResource(config.public_url))
    # The landing page, also at the root, where voeventdb answered 404.
    docs_page = openapi.DocsResource()
    app.add_route("/", docs_page)
    app.add_route("/docs", docs_page)

    # operations
    app.add_route("/healthz", HealthResource(archive))
    app.add_route("/metrics", MetricsResource())
    return app


def _version() -> str:
    try:
        return version("vohub-gateway")
    except PackageNotFoundError:
        return "unknown"


def _git_sha() -> str:
    """The first 8 hex digits of the checkout's commit, or ``unknown`` outside a checkout."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short=8", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=2,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    sha = done.stdout.strip()
    return sha if done.returncode == 0 and sha else "unknown"

"""A small HTTP server for a service's operations endpoints: ``/metrics`` and ``/healthz``.

gRPC services run it beside their gRPC port so that Prometheus can scrape them and load
balancers or operators can probe them with plain HTTP.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from vohub.common.addresses import Address
from vohub.common.errors import BindError


class _IPv6HTTPServer(ThreadingHTTPServer):
    """For an IPv6 host; ``::`` also takes IPv4 clients (dual stack, Linux's default)."""

    address_family = socket.AF_INET6


#: The methods served; any other gets 405 with this as its ``Allow`` header.
ALLOW = "GET, HEAD"

#: A health probe: returns (healthy, details) where details is JSON-serialisable.
HealthProbe = Callable[[], tuple[bool, dict[str, Any]]]


class OpsServer:
    """Serve ``/metrics`` and ``/healthz`` on ``host:port`` from a daemon thread.

    ``/healthz`` answers 200 with ``{"status": "ok", ...details}`` when the probe says
    healthy, else 503 with ``"status": "unavailable"``. HEAD answers as GET without the body;
    HTTP's other methods (POST, PUT, ...) get 405 with ``Allow: GET, HEAD``.
    :class:`BindError` if it cannot listen on ``host:port``.

    >>> server = OpsServer("127.0.0.1", 0, lambda: (True, {"db": "up"}))
    >>> port = server.start()
    >>> import urllib.request
    >>> urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz").read()
    b'{"status": "ok", "db": "up"}'
    >>> server.stop()
    """

    def __init__(
        self,
        host: str,
        port: int,
        health: HealthProbe,
        registry: CollectorRegistry = REGISTRY,
    ) -> None:
        self.health = health
        self.registry = registry
        server = _IPv6HTTPServer if ":" in host else ThreadingHTTPServer
        try:
            self._httpd = server((host, port), self._handler_class())
        except OSError as exc:
            raise BindError(
                str(Address(host, port)), f"cannot listen here: {exc.strerror}"
            ) from None
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        """The bound port (useful when constructed with port 0), known before :meth:`start`.

        >>> server = OpsServer("127.0.0.1", 0, lambda: (True, {}))
        >>> server.port > 0
        True
        >>> server.start() == server.port
        True
        >>> server.stop()
        """
        return int(self._httpd.server_address[1])

    def start(self) -> int:
        """Start serving in the background and return the bound port.

        >>> import urllib.request
        >>> from prometheus_client import Counter
        >>> registry = CollectorRegistry()
        >>> Counter("demo_packets", "Packets seen.", registry=registry).inc()
        >>> server = OpsServer("127.0.0.1", 0, lambda: (True, {}), registry)
        >>> port = server.start()
        >>> b"demo_packets_total 1.0" in urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read()
        True
        >>> server.stop()
        """
        self._thread.start()
        return self.port

    def stop(self) -> None:
        """Stop serving (if started) and close the socket.

        >>> import socket
        >>> server = OpsServer("127.0.0.1", 0, lambda: (True, {}))
        >>> port = server.start()
        >>> server.stop()
        >>> socket.create_connection(("127.0.0.1", port))
        Traceback (most recent call last):
        ...
        ConnectionRefusedError: [Errno 111] Connection refused
        """
        if self._thread.is_alive():  # shutdown() waits for a serve_forever that never ran
            self._httpd.shutdown()
        self._httpd.server_close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        ops = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    self._reply(200, CONTENT_TYPE_LATEST, generate_latest(ops.registry))
                elif path == "/healthz":
                    healthy, details = ops.health()
                    body = {"status": "ok" if healthy else "unavailable", **details}
                    self._reply(200 if healthy else 503, "application/json", json.dumps(body))
                else:
                    self._reply(404, "application/json", json.dumps({"error": "not found"}))

            def do_HEAD(self) -> None:
                """As GET, without the body (RFC 9110, 9.3.2): probes often ask this way."""
                self.do_GET()

            def _not_allowed(self) -> None:
                error = {"error": f"method {self.command} not allowed; use {ALLOW}"}
                self._reply(405, "application/json", json.dumps(error), {"Allow": ALLOW})

            # HTTP's other methods; one it does not define stays 501, as http.server answers
            do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _not_allowed  # noqa: N815

            def _reply(
                self,
                status: int,
                content_type: str,
                body: bytes | str,
                headers: dict[str, str] | None = None,
            ) -> None:
                data = body.encode() if isinstance(body, str) else body
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                """Probes are frequent; they are not worth a log line each."""

        return Handler

"""The /metrics and /healthz HTTP endpoints."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request

import pytest
from prometheus_client import CollectorRegistry, Counter

from vohub.common.errors import BindError
from vohub.common.ops_http import OpsServer


def get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            return reply.status, reply.headers["Content-Type"], reply.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers["Content-Type"], err.read()


@pytest.fixture
def registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    Counter("vohub_demo_packets", "Packets seen.", registry=registry).inc(3)
    return registry


def test_metrics_and_health(registry: CollectorRegistry) -> None:
    healthy = {"value": True}
    server = OpsServer(
        "127.0.0.1", 0, lambda: (healthy["value"], {"archive": "up"}), registry=registry
    )
    port = server.start()
    try:
        status, content_type, body = get(f"http://127.0.0.1:{port}/metrics")
        assert status == 200
        assert content_type.startswith("text/plain")
        assert b"vohub_demo_packets_total 3.0" in body
        status, _, body = get(f"http://127.0.0.1:{port}/healthz")
        assert (status, json.loads(body)) == (200, {"status": "ok", "archive": "up"})
        healthy["value"] = False
        status, _, body = get(f"http://127.0.0.1:{port}/healthz")
        assert (status, json.loads(body)["status"]) == (503, "unavailable")
        status, _, _ = get(f"http://127.0.0.1:{port}/nothing")
        assert status == 404
    finally:
        server.stop()


def ask(port: int, method: str, path: str) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request(method, path, body=b"{}" if method in ("POST", "PUT") else None)
        reply = connection.getresponse()
        return reply.status, dict(reply.getheaders()), reply.read()
    finally:
        connection.close()


def test_head_answers_as_get_without_a_body(registry: CollectorRegistry) -> None:
    """Load balancers and probes that ask HEAD /healthz got 501."""
    healthy = {"value": True}
    server = OpsServer("127.0.0.1", 0, lambda: (healthy["value"], {}), registry=registry)
    port = server.start()
    try:
        for path, status in (("/healthz", 200), ("/metrics", 200), ("/nothing", 404)):
            got, headers, body = ask(port, "HEAD", path)
            _, _, get_body = ask(port, "GET", path)
            assert (got, body) == (status, b"")
            assert int(headers["Content-Length"]) == len(get_body) > 0
        healthy["value"] = False
        assert ask(port, "HEAD", "/healthz")[0] == 503
    finally:
        server.stop()


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_other_methods_are_not_allowed(registry: CollectorRegistry, method: str) -> None:
    server = OpsServer("127.0.0.1", 0, lambda: (True, {}), registry=registry)
    port = server.start()
    try:
        status, headers, body = ask(port, method, "/healthz")
        assert (status, headers["Allow"]) == (405, "GET, HEAD")
        assert json.loads(body) == {"error": f"method {method} not allowed; use GET, HEAD"}
    finally:
        server.stop()


def test_a_port_in_use_is_a_bind_error_naming_the_address() -> None:
    first = OpsServer("127.0.0.1", 0, lambda: (True, {}))
    try:
        with pytest.raises(BindError, match=f"^127.0.0.1:{first.port}: cannot listen here: "):
            OpsServer("127.0.0.1", first.port, lambda: (True, {}))
    finally:
        first.stop()  # never started: stop() must still return


def test_an_ipv6_host_is_served_to_both_families(registry: CollectorRegistry) -> None:
    server = OpsServer("::", 0, lambda: (True, {}), registry=registry)
    port = server.start()
    try:
        assert get(f"http://[::1]:{port}/healthz")[0] == 200
        assert get(f"http://127.0.0.1:{port}/healthz")[0] == 200  # dual stack
        with pytest.raises(BindError, match=rf"^\[::1\]:{port}: cannot listen here: "):
            OpsServer("::1", port, lambda: (True, {}))
    finally:
        server.stop()

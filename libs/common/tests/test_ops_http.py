"""The /metrics and /healthz HTTP endpoints."""

from __future__ import annotations

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

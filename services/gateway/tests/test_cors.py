"""CORS: web pages on other origins may read the API (any origin by default, or those listed)."""

from __future__ import annotations

from typing import Any

import falcon.testing
import pytest

from vohub.common.errors import ConfigError
from vohub.gateway.app import create_app
from vohub.gateway.config import GatewayConfig, load

PAGE = {"Origin": "https://sky.example.org"}


def test_any_origin_may_read_answers_and_errors(client: Any, archive: Any) -> None:
    archive.count_reply = 3
    ok = client.simulate_get("/apiv1/count", headers=PAGE)
    assert ok.headers["Access-Control-Allow-Origin"] == "*"
    assert set(ok.headers["Access-Control-Expose-Headers"].split(", ")) == {"ETag", "Link"}
    bad = client.simulate_get("/apiv1/count", query_string="cited=maybe", headers=PAGE)
    assert bad.status_code == 400
    assert bad.headers["Access-Control-Allow-Origin"] == "*"  # the page can read why
    assert "Access-Control-Allow-Origin" not in client.simulate_get("/apiv1/count").headers


def test_preflight_is_answered(client: Any) -> None:
    headers = {**PAGE, "Access-Control-Request-Method": "GET"}
    r = client.simulate_options("/apiv2/packets", headers=headers)
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert "GET" in r.headers["Access-Control-Allow-Methods"]


def test_listed_origins_only(archive: Any) -> None:
    config = GatewayConfig(cors_origins=["https://sky.example.org"])
    client = falcon.testing.TestClient(create_app(config, archive))
    allowed = client.simulate_get("/apiv1/count", headers=PAGE)
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://sky.example.org"
    other = client.simulate_get("/apiv1/count", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_cors_off(archive: Any) -> None:
    client = falcon.testing.TestClient(create_app(GatewayConfig(cors_origins=[]), archive))
    answer = client.simulate_get("/apiv1/count", headers=PAGE)
    assert "Access-Control-Allow-Origin" not in answer.headers


def test_a_bad_origin_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match=r"^gateway.cors_origins\[1\]: not '\*' nor an origin"):
        load(env={"VOHUB_GATEWAY__CORS_ORIGINS": "https://ok.example,sky.example.org"})

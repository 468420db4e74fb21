"""gunicorn's own protocol errors are answered with the gateway's JSON error shape."""

from __future__ import annotations

import json

import pytest
from gunicorn.http import errors as http

from vohub.gateway.worker import error_response


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (http.LimitRequestLine(9000, 8190), 414),
        (http.LimitRequestHeaders("too many"), 431),
        (http.InvalidRequestLine("GARBAGE"), 400),
        (http.InvalidHeader("X-\x01"), 400),
        (RuntimeError("secret detail"), 500),
    ],
)
def test_error_response_is_json(exc: Exception, status: int) -> None:
    raw = error_response(exc)
    head, body = raw.split(b"\r\n\r\n", 1)
    assert head.startswith(f"HTTP/1.1 {status} ".encode())
    assert b"Content-Type: application/json" in head
    assert f"Content-Length: {len(body)}".encode() in head
    error = json.loads(body)["error"]
    assert error["code"] == status
    assert "secret" not in error["message"]

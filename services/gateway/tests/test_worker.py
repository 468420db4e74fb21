"""gunicorn's own protocol errors are answered with the gateway's JSON error shape."""

from __future__ import annotations

import json

import pytest

from vohub.gateway.worker import error_response


@pytest.mark.parametrize(
    ("status", "message", "kept"),
    [
        (414, "URI too long: 9000 > 8190", True),
        (431, "too many headers", True),
        (400, "Invalid HTTP request line: 'GARBAGE'", True),
        (500, "secret detail", False),
    ],
)
def test_error_response_is_json(status: int, message: str, kept: bool) -> None:
    raw = error_response(status, message, [("Upgrade", "websocket")])
    head, body = raw.split(b"\r\n\r\n", 1)
    assert head.startswith(f"HTTP/1.1 {status} ".encode())
    assert b"Content-Type: application/json" in head
    assert b"Upgrade: websocket" in head
    assert b"Cache-Control: no-store" in head
    assert f"Content-Length: {len(body)}".encode() in head
    error = json.loads(body)["error"]
    assert error["code"] == status
    assert (error["message"] == message) is kept

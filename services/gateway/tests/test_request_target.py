"""Request targets a server must accept: the absolute form (``GET http://host/path``)."""

from __future__ import annotations

import asyncio
from typing import Any

import falcon.testing

from vohub.gateway.app import create_app
from vohub.gateway.config import GatewayConfig


def call(archive: Any, target: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``target`` to the app as the server passes it: the whole target as the path."""
    app = create_app(GatewayConfig(), archive)
    path, _, query = target.partition(b"?")
    scope = falcon.testing.create_scope(path="/", host="localhost")
    scope.update(path=path.decode("latin-1"), raw_path=path, query_string=query)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    headers = {k.decode(): v.decode() for k, v in sent[0]["headers"]}
    return sent[0]["status"], headers, b"".join(m.get("body", b"") for m in sent[1:])


def test_an_absolute_form_target_is_routed_by_its_path(archive: Any) -> None:
    archive.count_reply = 7
    status, _, body = call(archive, b"http://localhost:28080/apiv1/count?role=test")
    assert status == 200, body
    assert b'"result":7' in body
    status, headers, _ = call(archive, b"http://localhost:28080/apiv1?x=1")
    assert (status, headers["location"]) == (308, "/apiv1/?x=1")

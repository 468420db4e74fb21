"""gunicorn's asyncio (ASGI) worker, with its own protocol errors answered in JSON too.

gunicorn answers a request it cannot parse (bad request line, oversize URI or headers) itself,
in plain text. This worker's protocol answers them with the gateway's JSON error shape, so
every 4xx a client sees is JSON.

gunicorn bounds the wait for each later request on a connection by ``keepalive`` seconds, but
not the wait for the first: a client could open connections and never finish a request line,
holding them (and the worker's file descriptors) for ever. This protocol starts the same
clock when the connection opens.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from http import HTTPStatus

from gunicorn.asgi.protocol import ASGIProtocol
from gunicorn.workers import gasgi

from vohub.gateway.errors import error_body


def error_response(status: int, message: str, headers: Iterable[tuple[str, str]] = ()) -> bytes:
    """The complete HTTP response for a request gunicorn could not parse or serve.

    The message (which may quote the request) is kept for 4xx and dropped for 5xx. Like the
    API's own errors, the answer says ``Cache-Control: no-store``.

    >>> error_response(414, "URI too long").split(b"\\r\\n")[0]
    b'HTTP/1.1 414 Request-URI Too Long'
    """
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Error"
    text = message if status < 500 else ""
    body = json.dumps(error_body(status, reason, text[:500]), separators=(",", ":")).encode()
    extra = "".join(f"{name}: {value}\r\n" for name, value in headers)
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n{extra}Cache-Control: no-store\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


class JsonErrorProtocol(ASGIProtocol):
    """gunicorn's HTTP protocol, answering unparseable requests with JSON, and closing a new
    connection whose first request is not complete within ``keepalive`` seconds."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Start the keep-alive clock at once; gunicorn stops it when a request is complete."""
        super().connection_made(transport)
        self._arm_keepalive_timer()  # type: ignore[attr-defined]  # not in the stubs

    def _send_error_response(
        self, status: int, message: str, extra_headers: Iterable[tuple[str, str]] = ()
    ) -> None:
        response = error_response(status, message, extra_headers)
        self._safe_write(response)  # type: ignore[attr-defined]  # not in the stubs


class JsonErrorWorker(gasgi.ASGIWorker):
    """gunicorn's ASGI worker (an asyncio loop, uvloop when installed) with JSON protocol errors."""

    def init_process(self) -> None:
        """Serve connections with :class:`JsonErrorProtocol`, then run as gunicorn's worker.

        The worker builds each connection's protocol from its module's ``ASGIProtocol`` name
        and offers no setting for it; this process runs only this worker, so the name is
        pointed at the JSON protocol here.
        """
        gasgi.ASGIProtocol = JsonErrorProtocol  # type: ignore[attr-defined]  # not in the stubs
        super().init_process()

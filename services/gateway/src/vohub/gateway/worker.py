"""A gunicorn worker whose own protocol errors (bad request line, oversize URI) are JSON too.

gunicorn answers requests it cannot parse itself, with an HTML page. This gthread worker
answers them with the gateway's JSON error shape, so every 4xx a client sees is JSON.
"""

from __future__ import annotations

import json
import socket
from typing import Any

from gunicorn import util
from gunicorn.http import errors as http
from gunicorn.workers.gthread import ThreadWorker

#: gunicorn protocol errors whose status is not 400: (type, status, reason).
_STATUS: tuple[tuple[type[Exception], int, str], ...] = (
    (getattr(http, "InvalidResponseHeader", RuntimeError), 500, "Internal Server Error"),
    (getattr(http, "InvalidResponseHeaderName", RuntimeError), 500, "Internal Server Error"),
    (http.LimitRequestLine, 414, "URI Too Long"),
    (http.LimitRequestHeaders, 431, "Request Header Fields Too Large"),
    (http.ForbiddenProxyRequest, 403, "Forbidden"),
    (http.ExpectationFailed, 417, "Expectation Failed"),
    (http.UnsupportedTransferCoding, 501, "Not Implemented"),
    (http.ConfigurationProblem, 500, "Internal Server Error"),
)


def error_response(exc: BaseException) -> bytes:
    """The complete HTTP response for a request gunicorn could not parse or serve.

    >>> error_response(http.LimitRequestLine(9000, 8190)).split(b"\\r\\n")[0]
    b'HTTP/1.1 414 URI Too Long'
    """
    status, reason = 500, "Internal Server Error"
    if isinstance(exc, http.ParseException):
        status, reason = 400, "Bad Request"
        for kind, code, text in _STATUS:
            if isinstance(exc, kind):
                status, reason = code, text
                break
    message = str(exc) if status < 500 else ""
    body = json.dumps(
        {"error": {"code": status, "description": reason, "message": message[:500]}},
        separators=(",", ":"),
    ).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


class JsonErrorWorker(ThreadWorker):
    """gunicorn's threaded worker, with JSON answers to unparseable requests."""

    def handle_error(self, req: Any, client: socket.socket, addr: Any, exc: BaseException) -> None:
        """Log the failure and answer it with the gateway's JSON error shape."""
        if isinstance(exc, http.ParseException):
            self.log.warning("Invalid request from ip=%s: %s", (addr or ("",))[0], exc)
        else:
            self.log.exception("Error handling request")
        try:
            util.write_nonblock(client, error_response(exc))
        except OSError:
            self.log.debug("Failed to send error message.")

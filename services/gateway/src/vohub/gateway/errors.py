"""The gateway's exceptions and the one table mapping every failure to an HTTP status and JSON.

Every error body has the shape of voeventdb's own errors, ``{"error": {"code", "description",
"message"}}``, plus ``"parameter"`` naming the query parameter (or ``ivorn``) at fault when
there is one. voeventdb left ``message`` empty; here it always says what is wrong.
"""

from __future__ import annotations

import json
from typing import Any

import falcon
from falcon.asgi import App, Request, Response
from falcon.constants import COMBINED_METHODS

from vohub.common.logs import get_logger

log = get_logger(__name__)

#: Seconds a client should wait before retrying when the archive is unreachable.
RETRY_AFTER_S = 5

_NOT_FOUND_TEXT = (
    "The requested URL was not found on the server. If you entered the URL manually "
    "please check your spelling and try again."
)


def error_body(
    code: int, description: str, message: str, parameter: str | None = None
) -> dict[str, Any]:
    """The JSON body of an error answer, in voeventdb's shape plus the optional ``parameter``.

    >>> error_body(400, "Invalid query-string", "not a date", "authored_since")["error"]["code"]
    400
    """
    error: dict[str, Any] = {"code": code, "description": description, "message": message}
    if parameter is not None:
        error["parameter"] = parameter
    return {"error": error}


class GatewayError(Exception):
    """Base of the gateway's errors; carries the HTTP status and the JSON fields to send."""

    status = 500
    description = "Internal Server Error"

    def __init__(self, message: str, parameter: str | None = None) -> None:
        if type(self) is GatewayError:
            raise TypeError("GatewayError is abstract; raise one of its subclasses")
        self.message = message
        self.parameter = parameter
        super().__init__(f"{parameter}: {message}" if parameter else message)

    def body(self) -> dict[str, Any]:
        """The JSON body of the error response."""
        return error_body(self.status, self.description, self.message, self.parameter)


class InvalidParameter(GatewayError):
    """A query parameter is unknown or its value is malformed (400).

    >>> str(InvalidParameter("not a boolean: 'maybe'", "cited"))
    "cited: not a boolean: 'maybe'"
    """

    status = 400
    description = "Invalid query-string"


class LimitExceeded(GatewayError):
    """A list request asked for more rows per page than the maximum (413, as voeventdb)."""

    status = 413
    description = "Max 'limit' value exceeded"


class UriTooLong(GatewayError):
    """The request target is longer than the gateway accepts (414)."""

    status = 414
    description = "URI Too Long"


class NoIvorn(GatewayError):
    """A packet endpoint was called without an IVORN (400, as voeventdb)."""

    status = 400
    description = "No IVORN supplied"


class IvornNotFound(GatewayError):
    """No packet has this IVORN: 422 on apiv1 (as voeventdb), 404 on apiv2.

    >>> IvornNotFound("ivo://a/b#c", status=404).body()["error"]["code"]
    404
    """

    description = "IVORN not found"

    def __init__(self, ivorn: str, status: int = 422) -> None:
        super().__init__(f"no packet with IVORN {ivorn!r}", "ivorn")
        self.status = status


class UnknownMap(GatewayError):
    """An apiv2 map kind that does not exist (404, naming the kinds there are).

    >>> UnknownMap("colour", ["stream", "role"]).message
    "no map 'colour'; the maps are stream, role"
    """

    status = 404
    description = "No such map"

    def __init__(self, kind: str, kinds: list[str]) -> None:
        super().__init__(f"no map {kind!r}; the maps are {', '.join(kinds)}", "kind")


class PreconditionFailed(GatewayError):
    """``If-Match`` names no tag of the packet's current XML (412).

    >>> print(PreconditionFailed('"abc"').message)
    If-Match "abc" does not match the packet's current ETag
    """

    status = 412
    description = "Precondition Failed"

    def __init__(self, held: str) -> None:
        super().__init__(f"If-Match {held[:200]} does not match the packet's current ETag")


class ArchiveError(Exception):
    """Base of the failures reported by the archive service (one per gRPC status we handle)."""

    def __init__(self, message: str) -> None:
        if type(self) is ArchiveError:
            raise TypeError("ArchiveError is abstract; raise one of its subclasses")
        self.message = message
        super().__init__(message)


class ArchiveNotFound(ArchiveError):
    """The archive has no packet with the requested IVORN (gRPC NOT_FOUND)."""


class ArchiveInvalidArgument(ArchiveError):
    """The archive refused the request; the message names the field (gRPC INVALID_ARGUMENT)."""


class ArchiveUnavailable(ArchiveError):
    """The archive could not be reached (gRPC UNAVAILABLE)."""


class ArchiveTimedOut(ArchiveError):
    """The archive did not answer within the gateway's deadline (gRPC DEADLINE_EXCEEDED); the
    archive stops the query when its caller goes."""


class ArchiveFailure(ArchiveError):
    """Any other archive status (INTERNAL, …): a bug somewhere, answered with a generic 500."""


def send_json_error(resp: Response, status: int, body: dict[str, Any]) -> None:
    """Write ``body`` as the JSON error response with ``status`` (4xx/5xx), not to be cached.

    (A packet missing now may be archived a second later: a proxy must not keep its 404.)
    """
    resp.status = status
    resp.cache_control = ["no-store"]
    resp.content_type = falcon.MEDIA_JSON
    resp.text = json.dumps(body, sort_keys=True, separators=(",", ":"))


async def _gateway_error(req: Request, resp: Response, ex: GatewayError, _: Any) -> None:
    send_json_error(resp, ex.status, ex.body())


async def _archive_not_found(req: Request, resp: Response, ex: ArchiveNotFound, _: Any) -> None:
    status = 404 if req.path.lstrip("/").startswith("apiv2") else 422
    send_json_error(
        resp, status, error_body(status, IvornNotFound.description, ex.message, "ivorn")
    )


async def _archive_invalid(
    req: Request, resp: Response, ex: ArchiveInvalidArgument, _: Any
) -> None:
    parameter = ex.message.split(":", 1)[0].strip() if ":" in ex.message else None
    error = InvalidParameter(ex.message, parameter)
    send_json_error(resp, error.status, error.body())


async def _archive_unavailable(
    req: Request, resp: Response, ex: ArchiveUnavailable, _: Any
) -> None:
    log.warning("archive.unavailable", path=req.path, error=ex.message)
    resp.set_header("Retry-After", str(RETRY_AFTER_S))
    message = f"the archive service cannot be reached: {ex.message}"
    send_json_error(resp, 503, error_body(503, "Archive unavailable", message))


async def _archive_timed_out(req: Request, resp: Response, ex: ArchiveTimedOut, _: Any) -> None:
    log.warning("archive.timed_out", path=req.path, query=req.query_string, error=ex.message)
    message = (
        f"the archive did not answer in time ({ex.message}); a narrower query (a smaller cone, "
        "a shorter time range, fewer streams) answers sooner"
    )
    send_json_error(resp, 504, error_body(504, "Archive timed out", message))


async def _http_error(req: Request, resp: Response, ex: falcon.HTTPError, _: Any) -> None:
    status = ex.status_code
    headers = dict(ex.headers or {})
    if status == 404:
        body = error_body(404, _NOT_FOUND_TEXT, f"404 Not Found: {_NOT_FOUND_TEXT}")
    elif isinstance(ex, falcon.HTTPMethodNotAllowed):
        headers["Allow"] = allowed = _with_head(headers.get("Allow", ""))
        message = f"{req.method} is not allowed on {req.path}; allowed: {allowed}"
        body = error_body(405, "Method Not Allowed", message)
    elif req.method not in COMBINED_METHODS:
        body = error_body(status, "Bad request", f"unknown HTTP method {req.method!r}")
    else:
        text = str(ex.description or ex.title or "")
        body = error_body(status, str(ex.title), text)
    for name, value in headers.items():
        resp.set_header(name, value)
    send_json_error(resp, status, body)


def _with_head(allowed: str) -> str:
    """An ``Allow`` list with HEAD after GET: every GET route answers HEAD too (``HeadAsGet``).

    >>> _with_head("GET, OPTIONS"), _with_head("OPTIONS")
    ('GET, HEAD, OPTIONS', 'OPTIONS')
    """
    methods = [m.strip() for m in allowed.split(",") if m.strip()]
    if "GET" in methods and "HEAD" not in methods:
        methods.insert(methods.index("GET") + 1, "HEAD")
    return ", ".join(methods)


async def _unhandled(req: Request, resp: Response, ex: Exception, _: Any) -> None:
    log.exception("request.failed", method=req.method, path=req.path)
    send_json_error(resp, 500, error_body(500, "Internal Server Error", ""))


def register(app: App[Request, Response]) -> None:
    """Install the error table on ``app``: most generic first, as Falcon matches by MRO."""
    app.add_error_handler(Exception, _unhandled)
    app.add_error_handler(falcon.HTTPError, _http_error)
    app.add_error_handler(GatewayError, _gateway_error)
    app.add_error_handler(ArchiveNotFound, _archive_not_found)
    app.add_error_handler(ArchiveInvalidArgument, _archive_invalid)
    app.add_error_handler(ArchiveUnavailable, _archive_unavailable)
    app.add_error_handler(ArchiveTimedOut, _archive_timed_out)

"""What an HTTP reply of the API means: the reply itself, the error it stands for, or how long
to wait before asking again."""

from __future__ import annotations

import httpx

from vohub.client.errors import (
    BadRequest,
    LimitTooLarge,
    PacketNotFound,
    ServerError,
    ServerUnavailable,
    UnexpectedReply,
    VohubHTTPError,
)

#: Status -> the error it stands for; any other 4xx or 5xx is a ServerError.
ERRORS: dict[int, type[VohubHTTPError]] = {
    400: BadRequest,
    404: PacketNotFound,
    422: PacketNotFound,
    413: LimitTooLarge,
    414: BadRequest,
    431: BadRequest,
    503: ServerUnavailable,
}


def checked(reply: httpx.Response, packet: bool) -> httpx.Response:
    """``reply`` if it is a success; else the error it stands for, naming the URL (a 404 is
    :class:`PacketNotFound` only for a ``packet`` path, where it means that).

    >>> request = httpx.Request("GET", "http://h/apiv2/packets/count")
    >>> checked(httpx.Response(400, json={"error": {"message": "bad", "parameter": "cited"}},
    ...                        request=request), packet=False)
    Traceback (most recent call last):
    ...
    vohub.client.errors.BadRequest: HTTP 400 for parameter 'cited': bad \
(http://h/apiv2/packets/count)
    """
    if reply.status_code < 300:
        return reply
    url = str(reply.request.url)
    if reply.status_code < 400:  # a redirect with no place to go, or a loop
        raise UnexpectedReply(url, f"HTTP {reply.status_code}", reply.content)
    message, parameter = f"HTTP {reply.status_code}", None
    try:
        error = reply.json()["error"]
        if isinstance(error, dict):
            message = error.get("message") or error.get("description") or message
            parameter = error.get("parameter")
        else:  # not a vohub or voeventdb error body
            message = str(error)[:200] or message
    except (ValueError, KeyError, TypeError):
        message = reply.text[:200] or message
    kind = ERRORS.get(reply.status_code, ServerError)
    if kind is PacketNotFound and not packet:  # a path this server lacks: not an archive's API
        kind = ServerError
        if "/apiv2/" in url:
            message += " (a plain voeventdb has no /apiv2: use api='v1')"
    raise kind(reply.status_code, message, parameter, url)


def retry_after(reply: httpx.Response, backoff: float, most: float) -> float:
    """The wait before retrying a 503: the server's ``Retry-After`` seconds when it gives them
    (at most ``most``), else ``backoff``.

    >>> retry_after(httpx.Response(503, headers={"Retry-After": "5"}), 0.2, 30.0)
    5.0
    >>> retry_after(httpx.Response(503), 0.2, 30.0)
    0.2
    """
    try:
        asked = float(reply.headers.get("Retry-After", ""))
    except ValueError:  # absent, or an HTTP date: keep the client's own backoff
        return backoff
    return min(max(asked, 0.0), most)

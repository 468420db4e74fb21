"""What an HTTP reply of the API means: the reply itself, the error it stands for, or how long
to wait before asking again; and checks of the values its JSON holds (a string, a count, a map
of counts), whose TypeError the client reports as :class:`UnexpectedReply`."""

from __future__ import annotations

from typing import Any

import httpx

from vohub.client.errors import (
    BadRequest,
    LimitTooLarge,
    NoApiV2,
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
    :class:`PacketNotFound` only for a ``packet`` path, and on apiv2 only when it names the
    ``ivorn``: a plain voeventdb answers 404 to any ``/apiv2`` path).

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
    # A 404 is a missing packet where a packet is asked for and the answer names the IVORN
    # (vohub's apiv2 does); elsewhere it is a path this server lacks: not an archive's API.
    lacks_path = reply.status_code == 404 and "/apiv2/" in url and parameter != "ivorn"
    if kind is PacketNotFound and (not packet or lacks_path):
        if lacks_path:
            raise NoApiV2(message, url)
        kind = ServerError
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


def a_string(value: Any) -> str:
    """``value`` if it is a string (an IVORN or a cursor); TypeError otherwise.

    >>> a_string("ivo://a/b#1")
    'ivo://a/b#1'
    """
    if not isinstance(value, str):
        raise TypeError(f"expected a string, not {value!r}")
    return value


def next_cursor(page: dict[str, Any]) -> str | None:
    """The next cursor of an apiv2 page (None on the last page)."""
    cursor = page.get("next_cursor")
    return None if cursor is None else a_string(cursor)


def a_count(n: Any) -> int:
    """``n`` if it is a count (an int, not a bool); TypeError otherwise.

    >>> a_count(3)
    3
    """
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"expected a count, not {n!r}")
    return n


def counted(ivorn: Any, n: Any) -> tuple[str, int]:
    """An ``(ivorn, count)`` row; TypeError if either is of another kind.

    >>> counted("ivo://a/b#1", 2)
    ('ivo://a/b#1', 2)
    """
    return a_string(ivorn), a_count(n)


def map_counts(kind: str, result: dict[str, Any]) -> dict[str, Any]:
    """An apiv1 map result, checked: counts by key, by key and subkey for ``stream_role_count``.

    >>> map_counts("role_count", {"test": 2})
    {'test': 2}
    >>> map_counts("role_count", {"test": "2"})
    Traceback (most recent call last):
    ...
    TypeError: expected a count, not '2'
    """
    if kind == "stream_role_count":
        return {
            a_string(k): dict(counted(sk, n) for sk, n in sub.items()) for k, sub in result.items()
        }
    return dict(counted(k, n) for k, n in result.items())

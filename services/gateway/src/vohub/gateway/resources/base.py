"""Request helpers shared by the resources: the raw path, the decoded query, JSON replies."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

import falcon
from falcon.asgi import Request, Response

from vohub.gateway.params import Pair, as_lists, parse_query_string
from vohub.gateway.render import dumps


def raw_path(req: Request) -> str:
    """The request path exactly as the client sent it (not percent-decoded).

    The server passes it as the ASGI ``raw_path`` (bytes, read here as latin-1, as HTTP/1.1
    carries them); where it does not, the decoded path is re-quoted as a fallback.
    """
    raw = req.scope.get("raw_path")
    if not raw:
        return quote(req.path, safe="/:@!$&'()*+,;=")
    path = bytes(raw).decode("latin-1")
    if not path.startswith("/"):
        path = urlsplit(path).path or "/"
    return path.split("?", 1)[0]


def query_pairs(req: Request) -> list[Pair]:
    """The decoded query string, parsed once per request."""
    pairs = getattr(req.context, "query_pairs", None)
    if pairs is None:
        pairs = parse_query_string(req.query_string)
        req.context.query_pairs = pairs
    return list(pairs)


def query_lists(req: Request) -> dict[str, list[str]]:
    """The decoded query string grouped by key, in order of appearance."""
    return as_lists(query_pairs(req))


def request_url(req: Request) -> str:
    """The full request URL as sent: scheme, host, raw path and raw query string."""
    query = f"?{req.query_string}" if req.query_string else ""
    return f"{req.prefix}{raw_path(req)}{query}"


def send_json(resp: Response, body: Any, status: int = 200) -> None:
    """Reply with ``body`` as compact sorted JSON."""
    resp.status = status
    resp.content_type = falcon.MEDIA_JSON
    resp.text = dumps(body)

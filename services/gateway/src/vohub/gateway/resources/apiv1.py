"""voeventdb-compatible ``/apiv1`` resources: the root, query and packet endpoints."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_to_bytes

import falcon
from falcon.asgi import Request, Response

from vohub.gateway.archive_client import ArchiveClient
from vohub.gateway.errors import ArchiveNotFound, InvalidParameter, IvornNotFound, NoIvorn
from vohub.gateway.paging import PAGING_V1, parse_paging
from vohub.gateway.params import FILTERS, build_filter
from vohub.gateway.render import envelope, list_rows_v1, map_v1, synopsis_v1
from vohub.gateway.resources.base import (
    query_lists,
    raw_path,
    request_url,
    send_json,
    send_xml,
)
from vohub.v1 import archive_pb2

#: The endpoint list of the root document, in voeventdb's order.
ENDPOINTS = [
    "/apiv1/",
    "/apiv1/count",
    "/apiv1/list/ivorn",
    "/apiv1/list/ivorn_ncites",
    "/apiv1/list/ivorn_nrefs",
    "/apiv1/map/authored_month_count",
    "/apiv1/map/role_count",
    "/apiv1/map/stream_count",
    "/apiv1/map/stream_role_count",
    "/apiv1/packet/synopsis/",
    "/apiv1/packet/xml/",
]

LIST_KINDS = {
    "ivorn": archive_pb2.ListRequest.IVORN,
    "ivorn_nrefs": archive_pb2.ListRequest.IVORN_NREFS,
    "ivorn_ncites": archive_pb2.ListRequest.IVORN_NCITES,
}

MAP_KINDS = {
    "authored_month_count": archive_pb2.MapRequest.AUTHORED_MONTH,
    "role_count": archive_pb2.MapRequest.ROLE,
    "stream_count": archive_pb2.MapRequest.STREAM,
    "stream_role_count": archive_pb2.MapRequest.STREAM_ROLE,
}


class RootResource:
    """``/apiv1/``: the API's self-description (JSON, or a small HTML page for browsers)."""

    def __init__(self, version_tag: str, git_sha: str, docs_url: str | None) -> None:
        self.version_tag = version_tag
        self.git_sha = git_sha
        self.docs_url = docs_url

    async def on_get(self, req: Request, resp: Response) -> None:
        """The root document."""
        docs = self.docs_url or f"{req.prefix}/docs"  # the scheme and host the client used
        body = {
            "api_version": "apiv1",
            "docs_url": docs,
            "endpoints": ENDPOINTS,
            "git_sha": self.git_sha,
            "message": "Welcome to the voeventdb REST API, interface version 'apiv1'.",
            "version_tag": self.version_tag,
        }
        if "text/html" in (req.get_header("Accept") or ""):
            resp.content_type = falcon.MEDIA_HTML
            resp.text = _landing_html(body)
            return
        send_json(resp, body)


def _landing_html(body: dict[str, Any]) -> str:
    links = "".join(f'<li><a href="{e}">{e}</a></li>' for e in body["endpoints"])
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>vohub apiv1</title></head>"
        f"<body><h1>{body['message']}</h1><ul>{links}</ul>"
        f"<p>version {body['version_tag']}, commit {body['git_sha']}; "
        "see also <a href='/openapi.json'>/openapi.json</a> and /apiv2.</p></body></html>"
    )


class QueryResource:
    """``/apiv1/count``, ``/apiv1/list/<kind>`` and ``/apiv1/map/<kind>``: filtered queries."""

    def __init__(self, archive: ArchiveClient) -> None:
        self.archive = archive

    async def on_get_count(self, req: Request, resp: Response) -> None:
        """Number of matching packets (paging keys accepted and ignored, as upstream)."""
        grouped = query_lists(req)
        flt = build_filter(grouped, FILTERS, PAGING_V1)
        count = (await self.archive.count(archive_pb2.CountRequest(filter=flt))).count
        send_json(resp, envelope("/apiv1/count", grouped, request_url(req), count))

    async def on_get_list(self, req: Request, resp: Response, kind: str) -> None:
        """One page of matching IVORNs, or ``[ivorn, n]`` pairs."""
        list_kind = LIST_KINDS.get(kind)
        if list_kind is None:
            raise falcon.HTTPNotFound()
        grouped = query_lists(req)
        flt = build_filter(grouped, FILTERS, PAGING_V1)
        paging = parse_paging(grouped)
        request = archive_pb2.ListRequest(
            filter=flt,
            order=paging.order,
            kind=list_kind,
            limit=paging.limit,
            offset=paging.offset,
        )
        rows = list_rows_v1(list_kind, await self.archive.list(request))
        body = envelope(f"/apiv1/list/{kind}", grouped, request_url(req), rows, paging.limit)
        send_json(resp, body)

    async def on_get_map(self, req: Request, resp: Response, kind: str) -> None:
        """Counts of matching packets grouped by stream, role, both, or authored month."""
        map_kind = MAP_KINDS.get(kind)
        if map_kind is None:
            raise falcon.HTTPNotFound()
        grouped = query_lists(req)
        flt = build_filter(grouped, FILTERS, PAGING_V1)
        reply = await self.archive.map(archive_pb2.MapRequest(filter=flt, kind=map_kind))
        body = envelope(f"/apiv1/map/{kind}", grouped, request_url(req), map_v1(map_kind, reply))
        send_json(resp, body)


def ivorn_candidates(raw_remainder: str | None, routed: str) -> list[str]:
    """IVORNs to try, best first, for the path remainder after ``/packet/<kind>/``.

    The raw remainder is decoded once as a form value (``+`` is a space: voeventdb.remote
    sends ``quote_plus(ivorn)``); then plain percent-decoding, the router's own decoding, and
    a second decoding pass for double-encoded URLs are tried.

    >>> ivorn_candidates("ivo%3A%2F%2Ftest.local%2Fnodate%23pkt+1%2B2", "")[:2]
    ['ivo://test.local/nodate#pkt 1+2', 'ivo://test.local/nodate#pkt+1+2']
    >>> ivorn_candidates("ivo%253A%252F%252Fa%252Fb%2523c", "")[-1]
    'ivo://a/b#c'
    """
    found: list[str] = []
    if raw_remainder is not None:
        for decode in (_form_decode, _plain_decode):
            found.append(decode(raw_remainder))
    found.append(routed)
    if _usable(found[0]):
        found += [_plain_decode(found[0]), _form_decode(found[0])]
    unique = []
    for ivorn in found:
        if _usable(ivorn) and ivorn not in unique:
            unique.append(ivorn)
    return unique


def _usable(ivorn: str) -> bool:
    """Not empty, and free of NULs and of what a decoder puts for bytes that are not UTF-8 (no
    stored IVORN holds either)."""
    return bool(ivorn) and "\x00" not in ivorn and "\ufffd" not in ivorn


def _form_decode(text: str) -> str:
    return _plain_decode(text.replace("+", " "))


def _plain_decode(text: str) -> str:
    return unquote_to_bytes(text.encode("latin-1", "replace")).decode("utf-8", "replace")


class PacketResource:
    """``/apiv1/packet/synopsis/<ivorn>`` and ``/apiv1/packet/xml/<ivorn>`` (query ignored)."""

    SYNOPSIS_RULE = "/apiv1/packet/synopsis/<path:url_encoded_ivorn>"

    def __init__(self, archive: ArchiveClient) -> None:
        self.archive = archive

    async def on_get_synopsis(self, req: Request, resp: Response, ivorn: str) -> None:
        """The packet's synopsis object."""
        synopsis = await self._find(req, ivorn, "/packet/synopsis/", self.archive.synopsis)
        grouped = query_lists(req)
        body = envelope(self.SYNOPSIS_RULE, grouped, request_url(req), synopsis_v1(synopsis))
        send_json(resp, body)

    async def on_get_xml(self, req: Request, resp: Response, ivorn: str) -> None:
        """The packet's XML bytes as ``text/xml`` (charset: the packet's own encoding)."""
        reply = await self._find(req, ivorn, "/packet/xml/", self.archive.get_xml)
        send_xml(req, resp, reply.xml)

    async def _find(self, req: Request, routed: str, marker: str, fetch: Any) -> Any:
        path = raw_path(req)
        at = path.find(marker)
        remainder = path[at + len(marker) :] if at >= 0 else None
        candidates = ivorn_candidates(remainder, routed)
        if not candidates:
            if routed or remainder:
                problem = "the IVORN in the path is not UTF-8 text without NUL characters"
                raise InvalidParameter(problem, "ivorn")
            raise NoIvorn("give the URL-encoded IVORN after the trailing slash", "ivorn")
        for ivorn in candidates:
            try:
                return await fetch(archive_pb2.PacketRequest(ivorn=ivorn))
            except ArchiveNotFound:
                continue
        raise IvornNotFound(candidates[0])


class SlashRedirect:
    """Routes voeventdb defines with a trailing slash: redirect the bare form with 308."""

    async def on_get(self, req: Request, resp: Response) -> None:
        """Permanent redirect to the slashed URL, keeping the query string.

        Leading slashes collapse to one: ``//apiv1/`` would name a host ``apiv1``.
        """
        query = f"?{req.query_string}" if req.query_string else ""
        path = "/" + raw_path(req).lstrip("/")
        raise falcon.HTTPPermanentRedirect(f"{path}/{query}")

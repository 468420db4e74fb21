"""``/apiv2``: vohub's own JSON API with cursor paging, full synopses and CSV/VOTable tables."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import falcon
from falcon.asgi import Request, Response

from vohub.gateway.archive_client import ArchiveClient
from vohub.gateway.errors import ArchiveNotFound, InvalidParameter, IvornNotFound, UnknownMap
from vohub.gateway.paging import parse_limit, parse_order
from vohub.gateway.params import FILTERS_V2, build_filter
from vohub.gateway.render_v2 import (
    CSV_CONTENT_TYPE,
    PACKET_COLUMNS,
    VOTABLE_CONTENT_TYPE,
    Column,
    Value,
    packet_row,
    synopsis_v2,
    to_csv,
    to_votable,
)
from vohub.gateway.resources.apiv1 import MAP_KINDS as _V1_MAP_KINDS
from vohub.gateway.resources.base import query_lists, query_pairs, raw_path, send_json, send_xml
from vohub.v1 import archive_pb2

FORMATS = ("json", "csv", "votable")
LIST_KEYS = ("limit", "cursor", "order", "format")
IVORN_LIST_KEYS = ("limit", "cursor", "order")
#: ``/apiv2/ivorns/<name>`` -> the archive list of IVORNs each with that count.
COUNTED_LISTS = {
    "n_refs": archive_pb2.ListRequest.IVORN_NREFS,
    "n_cited_by": archive_pb2.ListRequest.IVORN_NCITES,
}
MAP_KINDS = {
    "stream": archive_pb2.MapRequest.STREAM,
    "role": archive_pb2.MapRequest.ROLE,
    "stream_role": archive_pb2.MapRequest.STREAM_ROLE,
    "authored_month": archive_pb2.MapRequest.AUTHORED_MONTH,
}
assert set(MAP_KINDS.values()) == set(_V1_MAP_KINDS.values())
MAX_CURSOR = 4096


def single(grouped: dict[str, list[str]], name: str) -> str | None:
    """The value of a parameter that may be given at most once.

    >>> single({"format": ["csv"]}, "format"), single({}, "format")
    ('csv', None)
    """
    values = grouped.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise InvalidParameter("given more than once", name)
    return values[0]


def parse_format(grouped: dict[str, list[str]]) -> str:
    """``json`` (default), ``csv`` or ``votable``."""
    value = single(grouped, "format") or "json"
    if value not in FORMATS:
        raise InvalidParameter(f"not one of {', '.join(FORMATS)}: {value[:80]!r}", "format")
    return value


def send_table(
    resp: Response,
    fmt: str,
    name: str,
    columns: tuple[Column, ...],
    rows: list[list[Value]],
) -> None:
    """Reply with a CSV or VOTable rendering of ``rows``."""
    if fmt == "csv":
        resp.content_type = CSV_CONTENT_TYPE
        resp.text = to_csv(columns, rows)
    else:
        resp.content_type = VOTABLE_CONTENT_TYPE
        resp.text = to_votable(name, columns, rows, info=f"{len(rows)} rows")


class RootResource:
    """``/apiv2``: where things are."""

    async def on_get(self, req: Request, resp: Response) -> None:
        """Links to every apiv2 endpoint and the OpenAPI document."""
        send_json(
            resp,
            {
                "api_version": "apiv2",
                "openapi": "/openapi.json",
                "endpoints": [
                    "/apiv2/packets",
                    "/apiv2/ivorns",
                    *(f"/apiv2/ivorns/{name}" for name in COUNTED_LISTS),
                    "/apiv2/packets/count",
                    "/apiv2/packet",
                    "/apiv2/packet/xml",
                    *(f"/apiv2/maps/{k}" for k in MAP_KINDS),
                ],
            },
        )


class SlashlessRedirect:
    """``/apiv2/``: a permanent redirect to ``/apiv2``, the root's one URL, as ``/apiv1``
    redirects to ``/apiv1/``."""

    async def on_get(self, req: Request, resp: Response) -> None:
        """308 to the path without its trailing slash, keeping the query string."""
        query = f"?{req.query_string}" if req.query_string else ""
        raise falcon.HTTPPermanentRedirect("/" + raw_path(req).strip("/") + query)


class PacketsResource:
    """``/apiv2/packets`` (list), ``/apiv2/ivorns[/n_refs|/n_cited_by]``,
    ``/apiv2/packets/count``, ``/apiv2/packet[/xml]?ivorn=``."""

    def __init__(self, archive: ArchiveClient) -> None:
        self.archive = archive

    async def on_get(self, req: Request, resp: Response) -> None:
        """One page of full synopses, with the cursor of the next page."""
        grouped = query_lists(req)
        fmt = parse_format(grouped)
        reply, limit = await self._page(grouped, archive_pb2.ListRequest.SYNOPSIS, LIST_KEYS)
        items = [synopsis_v2(row.synopsis) for row in reply.rows]
        if fmt != "json":
            rows = [packet_row(item) for item in items]
            send_table(resp, fmt, "packets", PACKET_COLUMNS, rows)
            if reply.next_cursor:
                resp.set_header("Link", f'<{self._next(req, reply.next_cursor)}>; rel="next"')
            return
        send_json(resp, self._body(req, items, limit, reply.next_cursor))

    async def on_get_ivorns(self, req: Request, resp: Response) -> None:
        """One page of IVORNs alone (lighter than synopses), with the cursor of the next."""
        grouped = query_lists(req)
        reply, limit = await self._page(grouped, archive_pb2.ListRequest.IVORN, IVORN_LIST_KEYS)
        send_json(resp, self._body(req, list(reply.ivorns), limit, reply.next_cursor))

    async def on_get_n_refs(self, req: Request, resp: Response) -> None:
        """One page of ``{"ivorn", "n_refs"}``: each packet's number of references."""
        await self._counted(req, resp, "n_refs")

    async def on_get_n_cited_by(self, req: Request, resp: Response) -> None:
        """One page of ``{"ivorn", "n_cited_by"}``: how many packets cite each packet."""
        await self._counted(req, resp, "n_cited_by")

    async def _counted(self, req: Request, resp: Response, name: str) -> None:
        """A page of IVORNs with the count ``name`` (lighter than synopses), and its cursor."""
        reply, limit = await self._page(query_lists(req), COUNTED_LISTS[name], IVORN_LIST_KEYS)
        items = [{"ivorn": row.ivorn, name: row.count} for row in reply.rows]
        send_json(resp, self._body(req, items, limit, reply.next_cursor))

    async def _page(
        self,
        grouped: dict[str, list[str]],
        kind: archive_pb2.ListRequest.Kind.ValueType,
        keys: tuple[str, ...],
    ) -> tuple[archive_pb2.ListResponse, int]:
        """The archive's page of ``kind`` for the query, and the page size asked for."""
        flt = build_filter(grouped, FILTERS_V2, keys)
        limit = parse_limit(_at_most_one(grouped, "limit"))
        order = parse_order(_at_most_one(grouped, "order"))
        cursor = single(grouped, "cursor") or ""
        if len(cursor) > MAX_CURSOR:
            raise InvalidParameter(f"longer than {MAX_CURSOR} characters", "cursor")
        request = archive_pb2.ListRequest(filter=flt, order=order, kind=kind, limit=limit)
        request.cursor = cursor
        return await self.archive.list(request), limit

    def _body(self, req: Request, items: list[Any], limit: int, cursor: str) -> dict[str, Any]:
        return {
            "items": items,
            "limit": limit,
            "next_cursor": cursor or None,
            "next": self._next(req, cursor) if cursor else None,
        }

    @staticmethod
    def _next(req: Request, cursor: str) -> str:
        pairs = [(k, v) for k, v in query_pairs(req) if k != "cursor"] + [("cursor", cursor)]
        return f"{req.prefix}{req.path}?{urlencode(pairs)}"

    async def on_get_count(self, req: Request, resp: Response) -> None:
        """``{"count": n}``: the number of packets the list would yield."""
        flt = build_filter(query_lists(req), FILTERS_V2)
        count = (await self.archive.count(archive_pb2.CountRequest(filter=flt))).count
        send_json(resp, {"count": count})

    async def on_get_packet(self, req: Request, resp: Response) -> None:
        """One packet's synopsis, including the packets that cite it."""
        ivorn = _ivorn(query_lists(req))
        try:
            synopsis = await self.archive.synopsis(archive_pb2.PacketRequest(ivorn=ivorn))
        except ArchiveNotFound:
            raise IvornNotFound(ivorn, 404) from None
        send_json(resp, synopsis_v2(synopsis))

    async def on_get_xml(self, req: Request, resp: Response) -> None:
        """One packet's XML exactly as stored."""
        ivorn = _ivorn(query_lists(req))
        try:
            reply = await self.archive.get_xml(archive_pb2.PacketRequest(ivorn=ivorn))
        except ArchiveNotFound:
            raise IvornNotFound(ivorn, 404) from None
        send_xml(req, resp, reply.xml)


def _at_most_one(grouped: dict[str, list[str]], name: str) -> list[str] | None:
    value = single(grouped, name)
    return None if value is None else [value]


def _ivorn(grouped: dict[str, list[str]]) -> str:
    for key in grouped:
        if key != "ivorn":
            raise InvalidParameter("unknown query parameter", key[:64])
    ivorn = single(grouped, "ivorn")
    if not ivorn:
        raise InvalidParameter("required: the packet's IVORN", "ivorn")
    return ivorn


class MapsResource:
    """``/apiv2/maps/{kind}``: counts of matching packets by stream, role, both, or month."""

    def __init__(self, archive: ArchiveClient) -> None:
        self.archive = archive

    async def on_get(self, req: Request, resp: Response, kind: str) -> None:
        """Entries ``{key, subkey, count}``; ``key`` is null for packets with no author date."""
        map_kind = MAP_KINDS.get(kind)
        if map_kind is None:
            raise UnknownMap(kind, list(MAP_KINDS))
        grouped = query_lists(req)
        flt = build_filter(grouped, FILTERS_V2, ("format",))
        fmt = parse_format(grouped)
        reply = await self.archive.map(archive_pb2.MapRequest(filter=flt, kind=map_kind))
        entries = [_entry(e, map_kind) for e in reply.entries]
        if fmt == "json":
            send_json(resp, {"kind": kind, "entries": entries})
            return
        columns = (Column("key", "char"), Column("subkey", "char"), Column("count", "long"))
        rows: list[list[Value]] = [[e["key"], e.get("subkey"), e["count"]] for e in entries]
        send_table(resp, fmt, f"map_{kind}", columns, rows)


def _entry(entry: archive_pb2.MapEntry, kind: int) -> dict[str, Any]:
    item: dict[str, Any] = {
        "key": entry.key if entry.HasField("key") else None,
        "count": entry.count,
    }
    if kind == archive_pb2.MapRequest.STREAM_ROLE:
        item["subkey"] = entry.subkey
    return item

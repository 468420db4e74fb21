"""``/openapi.json``: the OpenAPI 3 description of apiv1, apiv2 and the operations endpoints.

Mostly a declarative table. Parameter schemas follow the parsers in ``params.py``.
"""

from __future__ import annotations

from typing import Any

import falcon
from falcon.asgi import Request, Response

from vohub.gateway.paging import DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET, ORDERS
from vohub.gateway.params import ROLES
from vohub.gateway.patterns import CONE_TEXT, DATETIME_TEXT
from vohub.gateway.resources.base import send_json

JSON = "application/json"
Schema = dict[str, Any]


def _nullable(schema: Schema) -> Schema:
    return {**schema, "nullable": True}


STR: Schema = {"type": "string"}
#: Free text as a parameter: any but NUL, which the gateway refuses (the database stores none).
TEXT: Schema = {"type": "string", "pattern": "^[^\\u0000]*$"}
#: The same, and no U+FFFD: in apiv1's path it stands for bytes that were not UTF-8 (a 400).
IVORN_IN_PATH: Schema = {"type": "string", "pattern": "^[^\\u0000\\ufffd]*$"}
NUM: Schema = {"type": "number"}
INT: Schema = {"type": "integer", "minimum": 0}

FILTER_DOCS: dict[str, tuple[Schema, str, bool]] = {
    # name: (schema of one value, description, repeatable)
    "authored_since": (
        {"type": "string", "pattern": DATETIME_TEXT},
        "Who/Date >= this ISO 8601 date-time (naive = UTC; 2015, 2015-10, basic form accepted).",
        False,
    ),
    "authored_until": (
        {"type": "string", "pattern": DATETIME_TEXT},
        "Who/Date <= this ISO 8601 date-time.",
        False,
    ),
    "cited": ({"type": "boolean"}, "Some packet cites this one (true) or none does.", False),
    "cone": (
        {"type": "string", "pattern": CONE_TEXT},
        "[ra, dec, radius] in degrees as JSON (numpy-2 reprs accepted), or ra,dec,radius; "
        "dec in [-90, 90], radius in [0, 180].",
        False,
    ),
    "coord": ({"type": "boolean"}, "The packet has (true) or has no position.", False),
    "dec_gt": ({**NUM, "minimum": -90, "maximum": 90}, "A position with dec > this.", False),
    "dec_lt": ({**NUM, "minimum": -90, "maximum": 90}, "A position with dec < this.", False),
    "ivorn_contains": (TEXT, "IVORN contains every one of these substrings (AND).", True),
    "ivorn_prefix": (TEXT, "IVORN starts with one of these (OR).", True),
    "ref_any": ({"type": "boolean"}, "The packet makes (true) or makes no citation.", False),
    "ref_contains": (TEXT, "The packet cites an IVORN containing one of these (OR).", True),
    "ref_exact": (TEXT, "The packet cites one of these IVORNs exactly (OR).", True),
    "role": ({"type": "string", "enum": list(ROLES)}, "Role is one of these (OR).", True),
    "stream": (TEXT, "Stream is one of these, e.g. nasa.gsfc.gcn/SWIFT (OR).", True),
}
FILTER_DOCS_V2: dict[str, tuple[Schema, str, bool]] = {
    **FILTER_DOCS,
    "stream": (
        TEXT,
        "Stream is one of these, e.g. nasa.gsfc.gcn/SWIFT or ivo://nasa.gsfc.gcn/SWIFT (OR).",
        True,
    ),
    "stream_prefix": (
        TEXT,
        "Stream starts with one of these; a leading ivo:// is ignored (OR).",
        True,
    ),
    "event_since": (
        {"type": "string", "pattern": DATETIME_TEXT},
        "A position's observation time >= this (UTC).",
        False,
    ),
    "event_until": (
        {"type": "string", "pattern": DATETIME_TEXT},
        "A position's observation time <= this (UTC).",
        False,
    ),
}


def _query(name: str, schema: Schema, description: str, repeat: bool = False) -> Schema:
    param: Schema = {"name": name, "in": "query", "description": description}
    if repeat:
        param.update(schema={"type": "array", "items": schema}, style="form", explode=True)
    else:
        param["schema"] = schema
    return param


def _filters(table: dict[str, tuple[Schema, str, bool]]) -> list[Schema]:
    return [_query(n, s, d, r) for n, (s, d, r) in table.items()]


LIMIT = _query(
    "limit",
    {"type": "integer", "minimum": 0, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
    f"Rows per page (default {DEFAULT_LIMIT}; above {MAX_LIMIT} is 413).",
)
ORDER = _query("order", {"type": "string", "enum": list(ORDERS)}, "Row order; id breaks ties.")
OFFSET = _query("offset", {**INT, "maximum": MAX_OFFSET}, "Rows to skip.")
FORMAT = _query("format", {"type": "string", "enum": ["json", "csv", "votable"]}, "Reply format.")
IVORN_Q = {**_query("ivorn", {**TEXT, "minLength": 1}, "The IVORN."), "required": True}

ERROR: Schema = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "description", "message"],
            "properties": {
                "code": {"type": "integer"},
                "description": STR,
                "message": STR,
                "parameter": STR,
            },
        }
    },
}
POSITION = {
    "type": "object",
    "required": ["ra", "dec", "error", "time"],
    "properties": {
        "ra": NUM,
        "dec": NUM,
        "error": _nullable(NUM),
        "time": _nullable({"type": "string", "format": "date-time"}),
    },
}
SYNOPSIS_V2 = {
    "type": "object",
    "required": ["ivorn", "stream", "role", "received", "positions", "refs", "cited_by"],
    "properties": {
        "ivorn": STR,
        "stream": STR,
        "role": STR,
        "version": STR,
        "received": {"type": "string", "format": "date-time"},
        "author_ivorn": _nullable(STR),
        "author_datetime": _nullable({"type": "string", "format": "date-time"}),
        "positions": {"type": "array", "items": POSITION},
        "refs": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"ivorn": STR, "cite_type": STR, "description": _nullable(STR)},
            },
        },
        "cited_by": {"type": "array", "items": STR},
        "relevant_urls": {"type": "array", "items": STR},
    },
}


def _envelope(result: Schema, with_limit: bool = False) -> Schema:
    props: Schema = {
        "endpoint": STR,
        "querystring": {"type": "object", "additionalProperties": {"type": "array"}},
        "result": result,
        "url": STR,
    }
    if with_limit:
        props["limit"] = {"type": "integer"}
    return {"type": "object", "required": list(props), "properties": props}


def _ok(schema: Schema, media: str = JSON) -> Schema:
    return {"description": "OK", "content": {media: {"schema": schema}}}


def _errors(*codes: int) -> Schema:
    err = {"description": "Error", "content": {JSON: {"schema": ERROR}}}
    return {str(c): err for c in (*codes, 414, 503, 504)} | {"default": err}


def _get(summary: str, params: list[Schema], ok: Schema, *codes: int) -> Schema:
    responses = {"200": ok, **_errors(400, *codes)}
    return {"get": {"summary": summary, "parameters": params, "responses": responses}}


IF_NONE_MATCH = {
    "name": "If-None-Match",
    "in": "header",
    "schema": STR,
    "description": "ETags of the copies the client holds: 304 if one is this packet's.",
}
IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "schema": STR,
    "description": "ETags of the copies the client will take: 412 if none is this packet's.",
}
CACHING = {"ETag": {"schema": STR}, "Cache-Control": {"schema": STR}}


def _get_xml(summary: str, params: list[Schema], *codes: int) -> Schema:
    """A packet's XML: cacheable, with an ETag, 304 for a client holding the current copy and
    412 for one that will take only another."""
    ok = {**_ok(STR, "text/xml"), "headers": CACHING}
    op = _get(summary, [*params, IF_NONE_MATCH, IF_MATCH], ok, *codes, 412)
    op["get"]["responses"]["304"] = {"description": "Not Modified", "headers": CACHING}
    return op


PAIR = {"type": "array", "items": {}, "minItems": 2, "maxItems": 2}
COUNT_MAP = {"type": "object", "additionalProperties": {"type": "integer"}}
TABLE_MEDIA = {
    "text/csv": {"schema": STR},
    "application/x-votable+xml": {"schema": STR},
}


def _v1_paths() -> Schema:
    filters = _filters(FILTER_DOCS)
    paging = [LIMIT, OFFSET, ORDER]
    paths: Schema = {
        "/apiv1/": _get("voeventdb apiv1 root", [], _ok({"type": "object"})),
        "/apiv1/count": _get("Count matching packets", filters, _ok(_envelope(INT))),
    }
    lists = {"ivorn": STR, "ivorn_nrefs": PAIR, "ivorn_ncites": PAIR}
    for name, item in lists.items():
        body = _envelope({"type": "array", "items": item}, with_limit=True)
        paths[f"/apiv1/list/{name}"] = _get(f"List {name}", filters + paging, _ok(body), 413)
    for name in ("authored_month_count", "role_count", "stream_count", "stream_role_count"):
        result = {"type": "object"} if name == "stream_role_count" else COUNT_MAP
        paths[f"/apiv1/map/{name}"] = _get(f"Map {name}", filters, _ok(_envelope(result)))
    ivorn_path = {"name": "ivorn", "in": "path", "required": True, "schema": IVORN_IN_PATH}
    paths["/apiv1/packet/synopsis/{ivorn}"] = _get(
        "Packet synopsis (quote_plus-encoded IVORN)",
        [ivorn_path],
        _ok(_envelope({"type": "object"})),
        422,
    )
    paths["/apiv1/packet/xml/{ivorn}"] = _get_xml("Packet XML", [ivorn_path], 422)
    return paths


def _v2_paths() -> Schema:
    filters = _filters(FILTER_DOCS_V2)
    cursor = _query("cursor", {"type": "string", "maxLength": 4096}, "next_cursor of a page.")

    def page(item: Schema) -> Schema:
        return {
            "type": "object",
            "required": ["items", "limit", "next_cursor", "next"],
            "properties": {
                "items": {"type": "array", "items": item},
                "limit": {"type": "integer"},
                "next_cursor": _nullable(STR),
                "next": _nullable(STR),
            },
        }

    paging = [LIMIT, cursor, ORDER]
    listing = _get("List packets", [*filters, *paging, FORMAT], _ok(page(SYNOPSIS_V2)), 413)
    ivorns = _get("List the IVORNs of packets", [*filters, *paging], _ok(page(STR)), 413)
    counted = {}
    for name, what in (("n_refs", "its references"), ("n_cited_by", "the packets citing it")):
        item = {"type": "object", "required": ["ivorn", name],
                "properties": {"ivorn": STR, name: INT}}  # fmt: skip
        summary = f"List the IVORNs of packets, each with the number of {what}"
        counted[f"/apiv2/ivorns/{name}"] = _get(summary, [*filters, *paging], _ok(page(item)), 413)
    listing["get"]["responses"]["200"]["content"].update(TABLE_MEDIA)
    listing["get"]["responses"]["200"]["headers"] = {
        "Link": {
            "description": 'A CSV or VOTable page\'s next page: `<URL>; rel="next"` (JSON pages '
            "give it as `next`); absent on the last page.",
            "schema": STR,
        }
    }
    entry = {
        "type": "object",
        "required": ["key", "count"],
        "properties": {"key": _nullable(STR), "subkey": STR, "count": {"type": "integer"}},
    }
    maps = {
        "type": "object",
        "properties": {"kind": STR, "entries": {"type": "array", "items": entry}},
    }
    kind = {
        "name": "kind",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "enum": ["stream", "role", "stream_role", "authored_month"]},
    }
    map_op = _get(
        "Counts by stream, role, both, or authored month", [kind, *filters, FORMAT], _ok(maps), 404
    )
    map_op["get"]["responses"]["200"]["content"].update(TABLE_MEDIA)
    count = {"type": "object", "required": ["count"], "properties": {"count": INT}}
    return {
        "/apiv2": _get("apiv2 root", [], _ok({"type": "object"})),
        "/apiv2/packets": listing,
        "/apiv2/ivorns": ivorns,
        **counted,
        "/apiv2/packets/count": _get("Count packets", filters, _ok(count)),
        "/apiv2/packet": _get("One packet's synopsis", [IVORN_Q], _ok(SYNOPSIS_V2), 404),
        "/apiv2/packet/xml": _get_xml("One packet's XML", [IVORN_Q], 404),
        "/apiv2/maps/{kind}": map_op,
    }


def _ops_paths() -> Schema:
    health = {"type": "object", "required": ["status", "archive"]}
    return {
        "/healthz": {
            "get": {
                "summary": "Archive reachability",
                "responses": {
                    "200": _ok(health),
                    "503": {
                        "description": "Archive unreachable",
                        "content": {JSON: {"schema": health}},
                    },
                },
            }
        },
        "/metrics": _get("Prometheus metrics", [], _ok(STR, "text/plain")),
    }


def document(public_url: str | None) -> Schema:
    """The whole OpenAPI 3.0 document."""
    doc: Schema = {
        "openapi": "3.0.3",
        "info": {
            "title": "vohub gateway",
            "version": "2.0.0",
            "description": (
                "Historical queries over the vohub VOEvent archive. /apiv1 is a drop-in "
                "replacement for voeventdb's API (voeventdb.remote works unchanged); /apiv2 is "
                "vohub's own API: cursor paging, ISO 8601 UTC times ending in Z, positions with "
                "errors, citations in both directions, CSV and VOTable tables. Errors are JSON "
                "{error: {code, description, message, parameter}}."
            ),
        },
        "paths": {**_v1_paths(), **_v2_paths(), **_ops_paths()},
    }
    if public_url:
        doc["servers"] = [{"url": public_url.rstrip("/")}]
    return doc


class OpenApiResource:
    """Serves the OpenAPI document (built once)."""

    def __init__(self, public_url: str | None) -> None:
        self.doc = document(public_url)

    async def on_get(self, req: Request, resp: Response) -> None:
        """The OpenAPI document as JSON."""
        send_json(resp, self.doc)


class DocsResource:
    """``/docs``: a page pointing at the machine-readable description."""

    async def on_get(self, req: Request, resp: Response) -> None:
        """A short HTML page."""
        resp.content_type = falcon.MEDIA_HTML
        resp.text = (
            "<!DOCTYPE html><html><head><meta charset='utf-8'><title>vohub API</title></head>"
            "<body><h1>vohub HTTP API</h1><ul><li><a href='/apiv1/'>/apiv1/</a>: "
            "voeventdb-compatible</li><li><a href='/apiv2'>/apiv2</a>: cursor paging, CSV, "
            "VOTable</li><li><a href='/openapi.json'>/openapi.json</a>: OpenAPI 3</li></ul>"
            "</body></html>"
        )

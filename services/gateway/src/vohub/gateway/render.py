"""Turn archive replies into apiv1 JSON: envelopes, synopsis objects, map dictionaries.

JSON is compact with sorted keys (as Flask sends it), floats in Python ``repr`` form, and
datetimes as ``isoformat()`` of aware UTC values (``2015-09-15T21:43:50+00:00``).
"""

from __future__ import annotations

import json
from typing import Any

from vohub.common.timestamps import field_datetime
from vohub.v1 import archive_pb2

SWIFT_BAT_PREFIX = "ivo://nasa.gsfc.gcn/SWIFT#BAT_GRB_Pos_"


def dumps(obj: Any) -> str:
    """Compact JSON with sorted keys; non-ASCII text kept as UTF-8.

    >>> dumps({"b": 2e-05, "a": [20.0, None]})
    '{"a":[20.0,null],"b":2e-05}'
    """
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def envelope(
    endpoint: str,
    querystring: dict[str, list[str]],
    url: str,
    result: Any,
    limit: int | None = None,
) -> dict[str, Any]:
    """The apiv1 response envelope; ``limit`` only on list endpoints.

    >>> sorted(envelope("/apiv1/count", {}, "http://h/apiv1/count", 3))
    ['endpoint', 'querystring', 'result', 'url']
    """
    body = {"endpoint": endpoint, "querystring": querystring, "result": result, "url": url}
    if limit is not None:
        body["limit"] = limit
    return body


def iso(message: Any, field: str) -> str | None:
    """The Timestamp ``field`` as apiv1 ``isoformat()`` text, or None when unset."""
    value = field_datetime(message, field)
    return None if value is None else value.isoformat()


def role_name(role: archive_pb2.Role.ValueType) -> str:
    """The lower-case role name used on the wire.

    >>> role_name(archive_pb2.OBSERVATION)
    'observation'
    """
    return archive_pb2.Role.Name(role).lower()


def relevant_urls(ivorn: str, ref_ivorns: list[str]) -> list[str]:
    """Swift follow-up links: from the packet's own BAT IVORN, else from its last BAT ref.

    >>> relevant_urls("ivo://nasa.gsfc.gcn/SWIFT#XRT_Pos_655721-326",
    ...               ["ivo://nasa.gsfc.gcn/SWIFT#BAT_GRB_Pos_655721-214"])[1]
    'http://gcn.gsfc.nasa.gov/other/655721.swift'
    >>> relevant_urls("ivo://gaia.cam.uk/alerts#Gaia16bsf", [])
    []
    """
    candidates = [ivorn] if ivorn.startswith(SWIFT_BAT_PREFIX) else []
    candidates += [r for r in ref_ivorns if r.startswith(SWIFT_BAT_PREFIX)][-1:]
    if not candidates:
        return []
    trigger = candidates[0][len(SWIFT_BAT_PREFIX) :].split("-", 1)[0]
    return [
        f"http://www.swift.ac.uk/search/summary.php?obsid={trigger}",
        f"http://gcn.gsfc.nasa.gov/other/{trigger}.swift",
    ]


def synopsis_v1(s: archive_pb2.PacketSynopsis) -> dict[str, Any]:
    """The apiv1 ``packet/synopsis`` result object."""
    return {
        "coords": [
            {
                "dec": c.dec,
                "error": c.error if c.HasField("error") else None,
                "ra": c.ra,
                "time": iso(c, "time"),
            }
            for c in s.coords
        ],
        "refs": [
            {
                "cite_type": r.cite_type,
                "description": r.description if r.HasField("description") else None,
                "ref_ivorn": r.ref_ivorn,
            }
            for r in s.refs
        ],
        "relevant_urls": relevant_urls(s.ivorn, [r.ref_ivorn for r in s.refs]),
        "voevent": {
            "author_datetime": iso(s, "author_datetime"),
            "author_ivorn": s.author_ivorn if s.HasField("author_ivorn") else None,
            "ivorn": s.ivorn,
            "received": iso(s, "received"),
            "role": role_name(s.role),
            "stream": s.stream,
            "version": s.version,
        },
    }


def map_v1(kind: archive_pb2.MapRequest.Kind.ValueType, reply: archive_pb2.MapResponse) -> Any:
    """A Map reply as the apiv1 dictionary (nested for stream/role; ``"null"`` month key).

    >>> reply = archive_pb2.MapResponse(entries=[
    ...     archive_pb2.MapEntry(key="2015-01", count=5), archive_pb2.MapEntry(count=1)])
    >>> map_v1(archive_pb2.MapRequest.AUTHORED_MONTH, reply)
    {'2015-01': 5, 'null': 1}
    """
    if kind == archive_pb2.MapRequest.STREAM_ROLE:
        nested: dict[str, dict[str, int]] = {}
        for e in reply.entries:
            nested.setdefault(e.key, {})[e.subkey] = e.count
        return nested
    return {(e.key if e.HasField("key") else "null"): e.count for e in reply.entries}


def list_rows_v1(
    kind: archive_pb2.ListRequest.Kind.ValueType, reply: archive_pb2.ListResponse
) -> list[Any]:
    """List rows as apiv1 results: IVORN strings, or ``[ivorn, n]`` pairs."""
    if kind == archive_pb2.ListRequest.IVORN:
        return list(reply.ivorns)
    return [[row.ivorn, row.count] for row in reply.rows]

"""Helpers shared by the resources: the raw path, the decoded query, JSON and XML replies."""

from __future__ import annotations

import codecs
import hashlib
import re
from typing import Any
from urllib.parse import quote, urlsplit

import falcon
from falcon.asgi import Request, Response

from vohub.gateway.errors import PreconditionFailed
from vohub.gateway.params import Pair, as_lists, parse_query_string
from vohub.gateway.render import dumps
from vohub.gateway.url_v1 import origin, path_and_query


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
    """apiv1's ``url``, rebuilt from the request as voeventdb rebuilds it."""
    query = req.scope.get("query_string", b"")
    return origin(req.scheme, req.netloc) + req.root_path + path_and_query(raw_path(req), query)


def send_json(resp: Response, body: Any, status: int = 200) -> None:
    """Reply with ``body`` as compact sorted JSON."""
    resp.status = status
    resp.content_type = falcon.MEDIA_JSON
    resp.text = dumps(body)


#: The encoding an XML declaration names (in its first line, ASCII in every encoding we serve).
_DECLARED_ENCODING = re.compile(rb"""\A<\?xml[^>]*?\sencoding\s*=\s*["']([A-Za-z][\w.:-]*)["']""")


def xml_content_type(xml: bytes) -> str:
    """``text/xml`` with the charset the packet's bytes are in: UTF-16 by its byte order mark,
    else its declared encoding, else UTF-8 (XML's default). HTTP's charset overrides the
    declaration (RFC 7303), so it must agree with it: packets are served as received.

    >>> xml_content_type(b"<?xml version='1.0' encoding='ISO-8859-1'?><a/>")
    'text/xml; charset=iso-8859-1'
    >>> xml_content_type("<a/>".encode("utf-16")), xml_content_type(b"<a/>")
    ('text/xml; charset=utf-16', 'text/xml; charset=utf-8')
    """
    if xml.startswith((codecs.BOM_UTF16_BE, codecs.BOM_UTF16_LE)):
        return "text/xml; charset=utf-16"
    declared = _DECLARED_ENCODING.match(xml.removeprefix(codecs.BOM_UTF8))
    charset = declared.group(1).decode("ascii").lower() if declared else "utf-8"
    return f"text/xml; charset={charset}"


#: A stored packet never changes (the archive keeps the first copy under an IVORN), so browsers
#: and caching proxies may keep its XML for a year without asking again.
XML_CACHE_CONTROL = ["public", "max-age=31536000", "immutable"]


def _strong_match(held: falcon.ETag | str, etag: falcon.ETag) -> bool:
    return isinstance(held, falcon.ETag) and not held.is_weak and held == etag


def send_xml(req: Request, resp: Response, xml: bytes) -> None:
    """Reply with a stored packet's XML: cacheable, with an ETag of its bytes.

    A client whose ``If-None-Match`` names that ETag (or ``*``) gets 304 Not Modified and no
    body. The comparison is the weak one RFC 9110 prescribes for ``If-None-Match``. One whose
    ``If-Match`` names neither it nor ``*`` gets 412 (:class:`PreconditionFailed`; strong
    comparison, as RFC 9110 prescribes for ``If-Match``).
    """
    etag = falcon.ETag(hashlib.blake2b(xml, digest_size=16).hexdigest())
    wanted = req.if_match
    if wanted and "*" not in wanted and not any(_strong_match(t, etag) for t in wanted):
        raise PreconditionFailed(req.get_header("If-Match") or "")
    resp.etag = etag
    resp.cache_control = XML_CACHE_CONTROL
    resp.content_type = xml_content_type(xml)
    held = req.if_none_match
    if held and ("*" in held or etag in held):
        resp.status = falcon.HTTP_NOT_MODIFIED
        return
    resp.data = xml

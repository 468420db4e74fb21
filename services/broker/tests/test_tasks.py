"""The broker's background tasks (archive forwarder, filtered fan-out, dedup upkeep): a task
that dies must say so, in the log and on /healthz, rather than stop its work without a word."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pytest

from vohub.broker.spool import Record
from vohub.v1 import broker_pb2

from .conftest import AppFactory, PacketMaker, wait_for
from .test_app import stub


class BrokenArchive:
    """An archive client with a bug: every call raises what the forwarder does not expect."""

    async def ingest(self, records: Sequence[Record], deadline: float) -> list[tuple[str, str]]:
        raise RuntimeError("a bug in the archive client")

    async def serving(self) -> bool:
        return True


async def test_a_dead_forwarder_is_logged_and_fails_the_health_check(
    app_factory: AppFactory, packet: PacketMaker, caplog: pytest.LogCaptureFixture
) -> None:
    """The forwarder died silently: packets piled up in the spool, never archived, and
    /healthz kept saying ok."""
    app = await app_factory(archive=BrokenArchive())
    assert app.health()[0]
    with caplog.at_level(logging.ERROR, logger="vohub.broker"):
        reply = await stub(app).Publish(broker_pb2.PublishRequest(xml=packet(1)))
        assert reply.outcome == broker_pb2.PublishResponse.ACCEPTED
        await wait_for(
            lambda: any(r.getMessage() == "broker.task_failed" for r in caplog.records), 5
        )
    [failed] = [r for r in caplog.records if r.getMessage() == "broker.task_failed"]
    assert failed.vohub_fields["task"] == "archive forwarder"
    assert failed.vohub_fields["error"] == "RuntimeError: a bug in the archive client"
    healthy, details = app.health()
    assert not healthy
    assert details["failed"] == ["archive forwarder"]

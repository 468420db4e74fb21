"""Fixtures for the gateway's unit tests: a fake archive at the ArchiveClient seam (STYLE P12)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import falcon.testing
import pytest

from vohub.gateway.app import create_app
from vohub.gateway.config import GatewayConfig
from vohub.gateway.errors import ArchiveError, ArchiveNotFound
from vohub.v1 import archive_pb2


def stamp(text: str) -> Any:
    """A protobuf Timestamp from ISO text."""
    from google.protobuf.timestamp_pb2 import Timestamp

    value = Timestamp()
    value.FromDatetime(datetime.fromisoformat(text).astimezone(UTC))
    return value


def xrt_synopsis() -> archive_pb2.PacketSynopsis:
    """The Swift XRT packet of the voeventdb reference (section 1.6), as the archive gives it."""
    return archive_pb2.PacketSynopsis(
        ivorn="ivo://nasa.gsfc.gcn/SWIFT#XRT_Pos_655721-326",
        received=stamp("2026-11-25T02:20:27.961214+00:00"),
        stream="nasa.gsfc.gcn/SWIFT",
        role=archive_pb2.OBSERVATION,
        version="2.0",
        author_ivorn="ivo://nasa.gsfc.tan/gcn",
        author_datetime=stamp("2015-09-15T21:43:50+00:00"),
        coords=[
            archive_pb2.Coord(
                ra=319.6588, dec=-34.9131, error=0.001, time=stamp("2015-09-15T21:24:37+00:00")
            )
        ],
        refs=[
            archive_pb2.Citation(
                ref_ivorn="ivo://nasa.gsfc.gcn/SWIFT#BAT_GRB_Pos_655721-214",
                cite_type="followup",
                description="This is the XRT Position for the original BAT trigger.",
            )
        ],
        cited_by=["ivo://example.org/later#1"],
    )


class FakeArchive:
    """Records every request and answers with canned replies (or raises a set error)."""

    def __init__(self) -> None:
        self.requests: list[Any] = []
        self.count_reply = 0
        self.list_reply = archive_pb2.ListResponse()
        self.map_reply = archive_pb2.MapResponse()
        self.packets: dict[str, archive_pb2.PacketSynopsis] = {}
        self.xml: dict[str, bytes] = {}
        self.error: ArchiveError | None = None
        self.health = (True, "SERVING")

    def _seen(self, request: Any) -> None:
        self.requests.append(request)
        if self.error is not None:
            raise self.error

    async def count(self, request: archive_pb2.CountRequest) -> archive_pb2.CountResponse:
        self._seen(request)
        return archive_pb2.CountResponse(count=self.count_reply)

    async def list(self, request: archive_pb2.ListRequest) -> archive_pb2.ListResponse:
        self._seen(request)
        return self.list_reply

    async def map(self, request: archive_pb2.MapRequest) -> archive_pb2.MapResponse:
        self._seen(request)
        return self.map_reply

    async def synopsis(self, request: archive_pb2.PacketRequest) -> archive_pb2.PacketSynopsis:
        self._seen(request)
        if request.ivorn not in self.packets:
            raise ArchiveNotFound(f"no packet {request.ivorn}")
        return self.packets[request.ivorn]

    async def get_xml(self, request: archive_pb2.PacketRequest) -> archive_pb2.XmlResponse:
        self._seen(request)
        if request.ivorn not in self.xml:
            raise ArchiveNotFound(f"no packet {request.ivorn}")
        return archive_pb2.XmlResponse(xml=self.xml[request.ivorn])

    async def healthy(self) -> tuple[bool, str]:
        return self.health


@pytest.fixture
def archive() -> FakeArchive:
    return FakeArchive()


@pytest.fixture
def client(archive: FakeArchive) -> Iterator[falcon.testing.TestClient]:
    app = create_app(GatewayConfig(public_url="http://vohub.example"), archive)
    return falcon.testing.TestClient(app)


@pytest.fixture
def xrt() -> archive_pb2.PacketSynopsis:
    return xrt_synopsis()

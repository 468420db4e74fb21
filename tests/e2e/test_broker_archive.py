"""The broker's hand-off to the real archive: oversize packets, and crashes on either side.

Every packet the broker acks must end up in the archive exactly once, whatever is killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from vohub.testing.archive import archive_command, serving
from vohub.testing.broker import BrokerFactory, BrokerServer, wait_until, with_ivorn
from vohub.testing.fixtures import CometFactory
from vohub.testing.ports import free_port
from vohub.testing.process import SupervisedProcess
from vohub.testing.pygcn import PygcnListener
from vohub.v1 import archive_pb2, archive_pb2_grpc, broker_pb2, broker_pb2_grpc
from vohub.vtp import Ack, Nak, VTPError
from vohub.vtp.client import Publisher as VtpPublisher
from vohub.vtp.client import publish

pytestmark = [pytest.mark.e2e, pytest.mark.interop]

BAT = (Path(__file__).resolve().parents[2] / "data" / "voevents" / "fourpisky-core"
       / "BAT_GRB_Pos_558756-820.xml").read_bytes()  # fmt: skip


class Archive:
    """``vohub archive serve`` on a fixed address, so it can be killed and brought back."""

    def __init__(self, workdir: Path) -> None:
        self.address = f"127.0.0.1:{free_port()}"
        self.db = f"sqlite:///{workdir / 'archive.db'}"
        self.workdir = workdir
        self.runs = 0
        self.process: SupervisedProcess | None = None

    def start(self) -> Archive:
        self.runs += 1
        env = {**os.environ, "VOHUB_ARCHIVE__OPS": ""}
        argv = archive_command(self.db, self.address)
        self.process = SupervisedProcess(f"archive{self.runs}", argv, log_dir=self.workdir, env=env)
        self.process.start().wait_ready(lambda: serving(self.address), deadline=30)
        return self

    def kill(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, 9)
        self.process._process().wait()

    def ivorns(self) -> list[str]:
        with grpc.insecure_channel(self.address) as channel:
            stub = archive_pb2_grpc.ArchiveStub(channel)
            reply = stub.List(archive_pb2.ListRequest(limit=1000), timeout=10)
            return list(reply.ivorns)

    def xml(self, ivorn: str) -> bytes:
        with grpc.insecure_channel(self.address) as channel:
            stub = archive_pb2_grpc.ArchiveStub(channel)
            return stub.GetXml(archive_pb2.PacketRequest(ivorn=ivorn), timeout=10).xml


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[Archive]:
    server = Archive(tmp_path).start()
    yield server
    if server.process is not None and server.process.returncode is None:
        server.process.stop()


def test_an_oversize_packet_is_archived_and_streamed_but_never_sent_to_vtp_peers(
    broker_factory: BrokerFactory, comet_factory: CometFactory, archive: Archive, tmp_path: Path
) -> None:
    broker = broker_factory(extra=["--archive", archive.address])
    script = tmp_path / "record.sh"
    script.write_text(f"#!/bin/sh\nsha1sum | cut -d' ' -f1 >> '{tmp_path}/comet.sha1'\n")
    script.chmod(0o755)
    comet_factory(name="sub", receive=False, broadcast=False, cmd=str(script),
                  remotes=[f"127.0.0.1:{broker.broadcast[1]}"])  # fmt: skip
    gcn = PygcnListener("127.0.0.1", broker.broadcast[1], tmp_path).start()
    channel = grpc.insecure_channel(broker.grpc)
    stream = broker_pb2_grpc.BrokerStub(channel).Subscribe(broker_pb2.SubscribeRequest())
    try:
        wait_until(lambda: broker.metric("vohub_broker_subscribers", kind="vtp") == 2, 30,
                   "Comet and pygcn subscribing")  # fmt: skip
        wait_until(lambda: broker.metric("vohub_broker_subscribers", kind="grpc") == 1, 30,
                   "the gRPC stream opening")  # fmt: skip
        pad = b"<How><Description>" + b"x" * 150_000 + b"</Description>"
        big = with_ivorn(BAT, "ivo://vohub.test/e2e#big").replace(b"<How>", pad)
        small = with_ivorn(BAT, "ivo://vohub.test/e2e#small")
        reply = asyncio.run(publish("127.0.0.1", broker.receive[1], big, max_send_size=1 << 20))
        assert isinstance(reply, Ack)
        assert isinstance(asyncio.run(publish("127.0.0.1", broker.receive[1], small)), Ack)
        assert [next(stream).ivorn, next(stream).ivorn] == [
            "ivo://vohub.test/e2e#big", "ivo://vohub.test/e2e#small"]  # fmt: skip
        sha_small = hashlib.sha1(small).hexdigest()
        comet_log = tmp_path / "comet.sha1"
        wait_until(lambda: comet_log.exists() and comet_log.read_text().split() == [sha_small],
                   30, "Comet receiving the small packet")  # fmt: skip
        wait_until(lambda: [r["sha1"] for r in gcn.received()] == [sha_small], 30,
                   "pygcn receiving the small packet")  # fmt: skip
        wait_until(lambda: broker.metric("vohub_broker_spool_depth") == 0, 30, "archiving")
    finally:
        stream.cancel()
        channel.close()
        gcn.stop()
    assert archive.xml("ivo://vohub.test/e2e#big") == big
    assert broker.metric("vohub_broker_oversize_skipped_total") == 2
    assert broker.log().count("subscriber.oversize_skipped") == 2
    vtp_connects = broker.log().count("vohub.broker.subscriber event=subscriber.connected")
    assert vtp_connects == 2  # neither VTP peer was cut off


def test_a_conflicting_copy_is_refused_and_kept_by_the_archive(
    broker_factory: BrokerFactory, archive: Archive
) -> None:
    """Same IVORN, other bytes: the author gets a nak, the archive keeps the first copy and
    records the second beside it, so nothing is lost."""
    broker = broker_factory(extra=["--archive", archive.address])
    first = with_ivorn(BAT, "ivo://vohub.test/e2e#twice")
    second = first.replace(b"<How>", b"<How><Description>corrected</Description>")
    assert isinstance(asyncio.run(publish("127.0.0.1", broker.receive[1], first)), Ack)
    reply = asyncio.run(publish("127.0.0.1", broker.receive[1], second))
    assert isinstance(reply, Nak)
    assert "ivo://vohub.test/e2e#twice was already seen with different content" in reply.reason
    wait_until(lambda: broker.metric("vohub_broker_spool_depth") == 0, 30, "archiving")
    assert archive.xml("ivo://vohub.test/e2e#twice") == first
    with contextlib.closing(sqlite3.connect(archive.db.removeprefix("sqlite:///"))) as db:
        kept = db.execute("SELECT ivorn, xml FROM conflict").fetchall()
    assert kept == [("ivo://vohub.test/e2e#twice", second)]
    assert broker.log().count("archive.conflict_kept") == 1


def test_a_damaged_record_in_the_spool_costs_that_packet_alone(
    broker_factory: BrokerFactory, archive: Archive
) -> None:
    """Ten packets acked while the archive was down, one byte of the third one's record
    flipped on disk: the restarted broker cut the spool there, silently, and the archive
    got two of them. Now it gets the other nine, and the log names what was set aside."""
    archive.kill()
    broker = broker_factory(name="spooler", extra=["--archive", archive.address])
    ivorns = [f"ivo://vohub.test/e2e#spooled-{i}" for i in range(1, 11)]
    packets = {ivorn: with_ivorn(BAT, ivorn) for ivorn in ivorns}
    for packet in packets.values():
        assert isinstance(asyncio.run(publish("127.0.0.1", broker.receive[1], packet)), Ack)
    broker.stop()
    segment = broker.data_dir / "spool" / f"{1:020d}.seg"
    data = bytearray(segment.read_bytes())
    second = 8 + int.from_bytes(data[0:4])  # each record: u32 length, u32 CRC, body
    third = second + 8 + int.from_bytes(data[second : second + 4])
    data[third + 200] ^= 0xFF
    segment.write_bytes(bytes(data))
    archive.start()
    restarted = broker_factory(name="spooler2", ports=broker.ports, data_dir=broker.data_dir,
                               extra=["--archive", archive.address])  # fmt: skip
    wait_until(lambda: restarted.metric("vohub_broker_spool_depth") == 0, 30, "archiving")
    del packets["ivo://vohub.test/e2e#spooled-3"]
    assert sorted(archive.ivorns()) == sorted(packets)
    assert all(archive.xml(ivorn) == packet for ivorn, packet in packets.items())
    [damaged] = [line for line in restarted.log().splitlines() if "spool.segment_damaged" in line]
    assert "level=error" in damaged
    assert f"segment={segment} offset={third} " in damaged
    assert f" records_kept=9 lost_seqs=3 copy={segment}.corrupt" in damaged
    assert Path(f"{segment}.corrupt").read_bytes() == data


class Publisher(threading.Thread):
    """Publishes packets, retrying each until the broker answers ack or nak.

    One by one on a connection each (plain VTP), or ``window`` at a time on one pipelined
    connection (vohub's extension), reconnecting after each crash.
    """

    def __init__(self, broker: BrokerServer, count: int, window: int) -> None:
        super().__init__(daemon=True)
        self.port = broker.receive[1]
        self.window = window
        self.packets = [with_ivorn(BAT, f"ivo://vohub.test/crash#{i}") for i in range(count)]
        self.answered: dict[str, str] = {}

    def run(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        async with VtpPublisher("127.0.0.1", self.port, window=self.window, timeout=5,
                                pipelining=self.window > 1) as author:  # fmt: skip
            slots = asyncio.Semaphore(self.window)
            await asyncio.gather(*(self._one(author, slots, i) for i in range(len(self.packets))))

    async def _one(self, author: VtpPublisher, slots: asyncio.Semaphore, i: int) -> None:
        ivorn = f"ivo://vohub.test/crash#{i}"
        async with slots:
            while ivorn not in self.answered:
                try:
                    reply = await author.publish(self.packets[i])
                except VTPError:
                    await asyncio.sleep(0.05)
                    continue
                self.answered[ivorn] = "ack" if isinstance(reply, Ack) else str(
                    reply.reason if isinstance(reply, Nak) else reply)  # fmt: skip


@pytest.mark.parametrize("window", [1, 16], ids=["one-per-connection", "pipelined"])
def test_kill_9_on_broker_and_archive_loses_and_duplicates_nothing(
    broker_factory: BrokerFactory, archive: Archive, tmp_path: Path, window: int
) -> None:
    broker = broker_factory(name="crashy", extra=["--archive", archive.address])
    publisher = Publisher(broker, 300, window)
    publisher.start()
    wait_until(lambda: len(publisher.answered) >= 60, 60, "60 packets answered")
    broker.kill()  # mid-stream
    restarted = broker_factory(name="crashy2", ports=broker.ports, data_dir=broker.data_dir,
                               extra=["--archive", archive.address])  # fmt: skip
    wait_until(lambda: len(publisher.answered) >= 150, 60, "150 packets answered")
    archive.kill()  # the archive dies; the broker spools
    wait_until(lambda: len(publisher.answered) >= 220, 60, "220 packets answered")
    restarted.kill()  # and the broker dies again while the archive is down
    archive.start()
    final = broker_factory(name="crashy3", ports=broker.ports, data_dir=broker.data_dir,
                           extra=["--archive", archive.address])  # fmt: skip
    publisher.join(120)
    assert len(publisher.answered) == 300
    refused = {i: r for i, r in publisher.answered.items() if r not in ("ack",)}
    # A packet whose ack was lost in a crash is answered "Previously seen" when resent.
    assert set(refused.values()) <= {"Event rejected: Previously seen by this broker"}
    wait_until(lambda: final.metric("vohub_broker_spool_depth") == 0, 60, "the spool draining")
    stored = archive.ivorns()
    assert len(stored) == len(set(stored)), "a packet was archived twice"
    assert sorted(stored) == sorted(publisher.answered), "an acked packet is missing"

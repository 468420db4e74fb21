"""Two vohub brokers following each other: IVORN dedup breaks the loop; each packet goes once."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from vohub.testing.broker import BrokerFactory, wait_until, with_ivorn
from vohub.testing.ports import free_port
from vohub.vtp import Event
from vohub.vtp.client import publish, subscribe

pytestmark = pytest.mark.e2e

BAT = (Path(__file__).resolve().parents[2] / "data" / "voevents" / "fourpisky-core"
       / "BAT_GRB_Pos_558756-820.xml").read_bytes()  # fmt: skip


class Follower(threading.Thread):
    """A VTP subscriber in a thread, recording every event it gets."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.events: list[Event] = []
        self.ready = threading.Event()
        self.stop = threading.Event()

    def run(self) -> None:
        asyncio.run(self._follow())

    async def _follow(self) -> None:
        async with subscribe("127.0.0.1", self.port) as sub:
            task = asyncio.create_task(self._collect(sub))
            await sub.ready.wait()
            self.ready.set()
            await asyncio.get_running_loop().run_in_executor(None, self.stop.wait)
            task.cancel()

    async def _collect(self, sub: object) -> None:
        async for event in sub:  # type: ignore[attr-defined]
            self.events.append(event)


def test_a_loop_of_two_brokers_delivers_each_packet_once_everywhere(
    broker_factory: BrokerFactory,
) -> None:
    ports_a = {k: free_port() for k in ("receive", "broadcast", "grpc", "metrics")}
    ports_b = {k: free_port() for k in ("receive", "broadcast", "grpc", "metrics")}
    a = broker_factory(name="a", ports=ports_a, local_ivo="ivo://vohub.test/a",
                       extra=["--remote", f"127.0.0.1:{ports_b['broadcast']}"])  # fmt: skip
    b = broker_factory(name="b", ports=ports_b, local_ivo="ivo://vohub.test/b",
                       extra=["--remote", f"127.0.0.1:{ports_a['broadcast']}"])  # fmt: skip
    wait_until(lambda: a.metric("vohub_broker_subscribers", kind="vtp") == 1
               and b.metric("vohub_broker_subscribers", kind="vtp") == 1, 30,
               "the brokers following each other")  # fmt: skip
    on_a, on_b = Follower(ports_a["broadcast"]), Follower(ports_b["broadcast"])
    for follower in (on_a, on_b):
        follower.start()
        assert follower.ready.wait(30)
    packets = [with_ivorn(BAT, f"ivo://vohub.test/mesh#{i}") for i in range(3)]
    for i, packet in enumerate(packets):
        entry = a if i % 2 == 0 else b
        assert type(asyncio.run(publish("127.0.0.1", entry.receive[1], packet))).__name__ == "Ack"
    wait_until(lambda: len(on_a.events) >= 3 and len(on_b.events) >= 3, 30, "delivery")
    time.sleep(1.0)  # time for any echo to come round the loop
    on_a.stop.set()
    on_b.stop.set()
    for follower in (on_a, on_b):
        assert sorted(e.raw for e in follower.events) == sorted(packets)
    # Each broker accepted each packet once and refused the echo from the other side.
    assert a.metric("vohub_broker_accepted_total", path="author") + a.metric(
        "vohub_broker_accepted_total", path="upstream") == 3  # fmt: skip
    assert b.metric("vohub_broker_accepted_total", path="author") + b.metric(
        "vohub_broker_accepted_total", path="upstream") == 3  # fmt: skip

"""The XPath time budget is each subscriber's own, and a slow filter holds up nobody else."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator

import pytest
from lxml import etree

from vohub.broker.app import BrokerApp
from vohub.vtp import Ack, Authenticate, Event, FrameDecoder, decode, encode, encode_frame
from vohub.vtp.client import Publisher
from vohub.vtp.filters import compile_filters

from .conftest import BAT, AppFactory, PacketMaker, wait_for

#: Nested counts: tens of milliseconds a packet, and more with each level.
COSTLY = "count(//*[count(//*[count(//*) > 0]) > 0]) > 0"
SLOW = f"{COSTLY} and count(//*[count(//*[count(//*) > 1]) > 1]) > 0"


def seconds_per_packet(expression: str) -> float:
    """What the filter costs on a BAT packet here (the quickest of three runs)."""
    root = etree.fromstring(BAT.read_bytes())
    filters = compile_filters([expression])
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        assert filters.matches(root)
        runs.append(time.perf_counter() - started)
    return min(runs)


class RawSubscriber:
    """A VTP subscriber on a plain socket, read only when the test polls it, so what it has
    read is what the broker had sent by then."""

    def __init__(self, port: int, filters: tuple[str, ...]) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        hello = Authenticate("ivo://vohub.test/raw", "ivo://vohub.test/unit", filters)
        self.sock.sendall(encode_frame(encode(hello, 0.0)))
        self.sock.setblocking(False)
        self.decoder = FrameDecoder()
        self.ivorns: list[str] = []
        self.closed = False

    def poll(self) -> int:
        """Read what has arrived; the number of packets received so far."""
        while not self.closed:
            try:
                data = self.sock.recv(1 << 20)
            except BlockingIOError:
                break
            except ConnectionResetError:
                data = b""
            if not data:
                self.closed = True
            self.decoder.feed(data)
        self.ivorns += [m.ivorn for m in map(decode, self.decoder) if isinstance(m, Event)]
        return len(self.ivorns)


@pytest.fixture
def subscribers() -> Iterator[list[RawSubscriber]]:
    made: list[RawSubscriber] = []
    yield made
    for subscriber in made:
        subscriber.sock.close()


async def subscribe(
    app: BrokerApp, made: list[RawSubscriber], *filters: tuple[str, ...]
) -> list[RawSubscriber]:
    new = [RawSubscriber(app.ports.broadcast, f) for f in filters]
    made += new
    await wait_for(lambda: len(app.fanout._filtered) == len(made))
    return new


async def publish(app: BrokerApp, packets: list[bytes]) -> list[str]:
    async with Publisher("127.0.0.1", app.ports.receive, window=32, timeout=30) as sender:
        replies = await asyncio.gather(*(sender.publish(p) for p in packets))
    assert all(isinstance(reply, Ack) for reply in replies)
    return [reply.ivorn for reply in replies]


async def test_each_subscriber_has_the_whole_budget_for_its_own_filter(
    app_factory: AppFactory, packet: PacketMaker, subscribers: list[RawSubscriber]
) -> None:
    """The budget was for every subscriber's filters together: 25 subscribers with a filter
    costing a twelfth of it each were dropped ("filter exceeded its 0.5 s budget"), all but
    the first few, and got nothing."""
    cost = seconds_per_packet(COSTLY)
    app = await app_factory(iamalive_interval=60, filter_timeout=10 * cost)
    crowd = await subscribe(app, subscribers, *[(COSTLY,)] * 30)  # 3 budgets' worth together
    ivorns = await publish(app, [packet(1), packet(2)])

    def settled() -> bool:
        return all(s.poll() == 2 or s.closed for s in crowd)

    await wait_for(settled, deadline=120)
    assert [s.ivorns for s in crowd] == [ivorns] * 30
    assert not any(s.closed for s in crowd)
    assert app.metrics.value("vohub_broker_filter_timeouts_total") == 0


async def test_a_slow_filter_within_budget_does_not_hold_up_a_cheap_one(
    app_factory: AppFactory, packet: PacketMaker, subscribers: list[RawSubscriber]
) -> None:
    """Verdicts came back for every subscriber at once, when the slowest filter was done
    with the whole burst: a ``//Who`` subscriber got a 30-packet burst 9.6 s late, behind a
    filter of 0.3 s a packet."""
    app = await app_factory(iamalive_interval=60, filter_timeout=20 * seconds_per_packet(SLOW))
    slow, cheap = await subscribe(app, subscribers, (SLOW,), ("//Who",))
    ivorns = await publish(app, [packet(n) for n in range(12)])
    await wait_for(lambda: cheap.poll() == 12, deadline=120)
    # the broker runs in this process: whatever it has sent the slow one is readable now
    assert slow.poll() < 12
    await wait_for(lambda: slow.poll() == 12, deadline=120)
    assert cheap.ivorns == slow.ivorns == ivorns
    assert app.metrics.value("vohub_broker_filter_timeouts_total") == 0

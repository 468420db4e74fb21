"""The load generator of bench_broker.py: VTP authors and subscribers, as lean as Python allows.

Subscribers run in their own processes (``subscriber_process``): raw-socket protocols that
timestamp every event, ack it and answer iamalives, reading frames by offset. Authors run in
the benchmark's process: ``one_per_event`` (plain VTP, a connection per event) or
``pipelined`` (one connection, vohub's opt-in, through :class:`vohub.vtp.client.Publisher`).
"""

from __future__ import annotations

import asyncio
import re
import struct
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

from vohub.vtp.client import Publisher
from vohub.vtp.messages import Ack

IVORN = re.compile(rb'ivorn="([^"]+)"')
PREFIX = struct.Struct(">I")
ACK = (
    b"<?xml version='1.0' encoding='UTF-8'?>\n<trn:Transport "
    b'xmlns:trn="http://www.telescope-networks.org/xml/Transport/v1.1" version="1.0" '
    b'role="ack"><Origin>%s</Origin><Response>ivo://vohub.bench/sub</Response>'
    b"<TimeStamp>2026-01-01T00:00:00Z</TimeStamp></trn:Transport>"
)
ALIVE = ACK.replace(b'role="ack"', b'role="iamalive"')
ACK_HEAD, ACK_TAIL = ACK.split(b"%s")
ACK_SIZE = len(ACK_HEAD) + len(ACK_TAIL)
ORIGIN = re.compile(rb"<Origin>([^<]*)</Origin>")


def frame(payload: bytes) -> bytes:
    return PREFIX.pack(len(payload)) + payload


@dataclass
class Run:
    """What one broker did with one load."""

    sent: dict[bytes, float] = field(default_factory=dict)
    acked: int = 0
    naked: int = 0
    received: list[list[tuple[bytes, float]]] = field(default_factory=list)  # per subscriber
    first: float = 0.0
    last_ack: float = 0.0
    broker_cpu: float = 0.0
    gen_cpu: float = 0.0


class Subscriber(asyncio.Protocol):
    """A raw-socket subscriber: timestamps each event, acks it, answers iamalive."""

    def __init__(self, received: list[tuple[bytes, float]], ready: asyncio.Event) -> None:
        self.received, self.ready, self.buffer = received, ready, b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        now, buffer = time.perf_counter(), self.buffer + data if self.buffer else data
        replies, pos, end = [], 0, len(buffer)
        while end - pos >= 4:
            start = pos + 4
            stop = start + PREFIX.unpack_from(buffer, pos)[0]
            if stop > end:
                break
            pos = stop
            head = min(stop, start + 1500)
            if buffer.find(b"Transport", start, min(head, start + 300)) >= 0:
                self.transport_message(buffer, start, stop, head, replies)
                continue
            first = buffer.find(b'ivorn="', start, head) + 7
            ivorn = buffer[first : buffer.find(b'"', first, head)] if first > 6 else b"?"
            self.received.append((ivorn, now))
            replies += (PREFIX.pack(ACK_SIZE + len(ivorn)), ACK_HEAD, ivorn, ACK_TAIL)
        self.buffer = buffer[pos:]
        if replies and self.transport is not None:
            self.transport.write(b"".join(replies))

    def transport_message(
        self, buffer: bytes, start: int, stop: int, head: int, replies: list[bytes]
    ) -> None:
        if buffer.find(b'role="authenticate"', start, head) >= 0:
            self.ready.set()
        elif buffer.find(b'role="iamalive"', start, head) >= 0:
            origin = ORIGIN.search(buffer, start, stop)
            replies.append(frame(ALIVE % (origin.group(1) if origin else b"")))


async def subscribe_all(port: int, n: int, go: Connection, out: Connection) -> None:
    """In a subscriber process: connect n subscribers, report ready, record until told."""
    loop = asyncio.get_running_loop()
    received: list[list[tuple[bytes, float]]] = [[] for _ in range(n)]
    readies = [asyncio.Event() for _ in range(n)]
    conns = [
        await loop.create_connection(lambda r=r, g=g: Subscriber(g, r), "127.0.0.1", port)
        for r, g in zip(readies, received, strict=True)
    ]
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 30)
    cpu = time.process_time()
    go.send("ready")
    expected = await loop.run_in_executor(None, go.recv)
    idle_since, seen = time.perf_counter(), 0
    while (got := sum(map(len, received))) < expected and time.perf_counter() - idle_since < 5:
        await asyncio.sleep(0.02)
        if got != seen:
            seen, idle_since = got, time.perf_counter()
    cpu = time.process_time() - cpu  # what receiving took, before the wrap-up below
    for transport, _ in conns:
        transport.close()
    out.send((received, cpu))


def subscriber_process(port: int, n: int, go: Connection, out: Connection) -> None:
    fast_loop()
    asyncio.run(subscribe_all(port, n, go, out))


class Author(asyncio.Protocol):
    """One plain VTP author connection: send one event, read the verdict."""

    def __init__(self, packet: bytes, done: asyncio.Future[bytes]) -> None:
        self.packet, self.done, self.buffer = packet, done, b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        transport.write(frame(self.packet))  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) >= 4 and len(self.buffer) >= 4 + PREFIX.unpack_from(self.buffer)[0]:
            if not self.done.done():
                self.done.set_result(self.buffer[4:])
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(b"")


async def one_per_event(port: int, packets: list[bytes], inflight: int, run: Run) -> None:
    """Plain VTP: a connection per event, ``inflight`` at once."""
    loop = asyncio.get_running_loop()

    async def send(packet: bytes, ivorn: bytes) -> None:
        done: asyncio.Future[bytes] = loop.create_future()
        run.sent[ivorn] = time.perf_counter()
        await loop.create_connection(lambda: Author(packet, done), "127.0.0.1", port)
        note(run, b'role="ack"' in await done)

    await in_flight(packets, inflight, send, run)


async def pipelined(port: int, packets: list[bytes], inflight: int, run: Run) -> None:
    """vohub's extension: one connection, ``inflight`` events in flight on it."""
    async with Publisher("127.0.0.1", port, window=inflight) as publisher:
        if not await publisher.connect():
            raise SystemExit("the broker did not grant pipelining")

        async def send(packet: bytes, ivorn: bytes) -> None:
            run.sent[ivorn] = time.perf_counter()
            note(run, isinstance(await publisher.publish(packet), Ack))

        await in_flight(packets, inflight, send, run)


async def in_flight(
    packets: list[bytes], inflight: int, send: Callable[[bytes, bytes], Awaitable[None]], run: Run
) -> None:
    """Keep ``inflight`` sends going: each of as many workers sends its next when one is done."""
    queue = iter([(p, ivorn_of(p)) for p in packets])

    async def worker() -> None:
        for packet, ivorn in queue:
            await send(packet, ivorn)

    run.first = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(inflight)))


def ivorn_of(packet: bytes) -> bytes:
    return IVORN.search(packet, 0, 1500).group(1)  # type: ignore[union-attr]


def note(run: Run, acked: bool) -> None:
    if acked:
        run.acked += 1
        run.last_ack = time.perf_counter()
    else:
        run.naked += 1


def fast_loop() -> None:
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())

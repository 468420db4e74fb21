"""Benchmark the vohub broker against Comet 3.1.0 in one run: throughput, latency, loss.

Both brokers get the same load: real packets from data/tarballs/ (VOEvent 2.0, schema-valid,
IVORNs made unique per run), sent one event per author connection (as Comet expects) with
``--inflight`` connections at once, to N raw-socket subscribers that ack every event and
timestamp its receipt. Each broker is fresh for each N (new process, empty dedup store).
Comet runs from ``.peers/comet`` (Debian's Python, so its dedup store is dbm.ndbm); vohub as
``vohub broker`` with no archive (its spool still fsyncs every accepted packet).

    .venv/bin/python bench/bench_broker.py [--packets 2000] [--subscribers 1,10,100]
        [--inflight 8] [--repeat 3]

Runs vohub and Comet alternately, ``--repeat`` times per N, and prints every run, then the
median run per broker and N, then vohub/Comet ratios. Latency is from just before the
author writes the event to its receipt by a subscriber.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import re
import statistics
import struct
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

from vohub.testing.broker import start_broker
from vohub.testing.comet_broker import CometOptions, start_comet
from vohub.voevent.errors import VOEventError
from vohub.voevent.loader import parse

ROOT = Path(__file__).resolve().parents[1]
TARBALLS = sorted((ROOT / "data" / "tarballs").glob("*.tar.bz2"))
IVORN = re.compile(rb'ivorn="([^"]+)"')
PREFIX = struct.Struct(">I")
ACK = (
    b"<?xml version='1.0' encoding='UTF-8'?>\n<trn:Transport "
    b'xmlns:trn="http://www.telescope-networks.org/xml/Transport/v1.1" version="1.0" '
    b'role="ack"><Origin>%s</Origin><Response>ivo://vohub.bench/sub</Response>'
    b"<TimeStamp>2026-01-01T00:00:00Z</TimeStamp></trn:Transport>"
)
ALIVE = (
    b"<?xml version='1.0' encoding='UTF-8'?>\n<trn:Transport "
    b'xmlns:trn="http://www.telescope-networks.org/xml/Transport/v1.1" version="1.0" '
    b'role="iamalive"><Origin>%s</Origin><Response>ivo://vohub.bench/sub</Response>'
    b"<TimeStamp>2026-01-01T00:00:00Z</TimeStamp></trn:Transport>"
)
ORIGIN = re.compile(rb"<Origin>([^<]*)</Origin>")


def load_packets(count: int) -> list[bytes]:
    """``count`` distinct real VOEvent 2.0 packets that pass strict validation."""
    packets: list[bytes] = []
    for path in TARBALLS:
        with tarfile.open(path) as tar:
            for member in tar:
                handle = tar.extractfile(member) if member.isfile() else None
                if handle is None:
                    continue
                raw = handle.read()
                try:
                    if parse(raw, strict=True).version == "2.0" and len(raw) < 99_000:
                        packets.append(raw)
                except VOEventError:
                    continue
                if len(packets) == count:
                    return packets
    raise SystemExit(f"only {len(packets)} usable packets in {TARBALLS}")


def unique(packets: list[bytes], tag: str) -> list[bytes]:
    """The packets with IVORNs no broker has seen: ``<ivorn>-<tag>-<i>``."""
    out = []
    for i, raw in enumerate(packets):
        suffix = f'-{tag}-{i}"'.encode()
        out.append(IVORN.sub(lambda m, s=suffix: m.group(0)[:-1] + s, raw, 1))
    return out


def frame(payload: bytes) -> bytes:
    return PREFIX.pack(len(payload)) + payload


@dataclass
class Run:
    """What one broker did with one load."""

    sent: dict[bytes, float] = field(default_factory=dict)
    acked: int = 0
    naked: int = 0
    received: list[tuple[bytes, float]] = field(default_factory=list)
    first: float = 0.0
    last_ack: float = 0.0


class Subscriber(asyncio.Protocol):
    """A raw-socket subscriber: timestamps each event, acks it, answers iamalive."""

    def __init__(self, received: list[tuple[bytes, float]], ready: asyncio.Event) -> None:
        self.received, self.ready, self.buffer = received, ready, b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        now, buffer, replies = time.perf_counter(), self.buffer + data, []
        while len(buffer) >= 4:
            size = PREFIX.unpack_from(buffer)[0]
            if len(buffer) < 4 + size:
                break
            head, buffer = buffer[4 : min(4 + size, 1504)], buffer[4 + size :]
            if b"Transport" in head:
                if b'role="authenticate"' in head:
                    self.ready.set()
                elif b'role="iamalive"' in head:
                    origin = ORIGIN.search(head)
                    replies.append(frame(ALIVE % (origin.group(1) if origin else b"")))
                continue
            match = IVORN.search(head)
            ivorn = match.group(1) if match else b"?"
            self.received.append((ivorn, now))
            replies.append(frame(ACK % ivorn))
        self.buffer = buffer
        if replies and self.transport is not None:
            self.transport.write(b"".join(replies))


async def subscribe_all(port: int, n: int, go: Connection, seconds: Connection) -> None:
    """In the subscriber process: connect n subscribers, report ready, record until told."""
    loop = asyncio.get_running_loop()
    received: list[tuple[bytes, float]] = []
    readies = [asyncio.Event() for _ in range(n)]
    conns = [
        await loop.create_connection(lambda r=r: Subscriber(received, r), "127.0.0.1", port)
        for r in readies
    ]
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 30)
    go.send("ready")
    expected = await loop.run_in_executor(None, go.recv)
    idle_since, seen = time.perf_counter(), 0
    while len(received) < expected and time.perf_counter() - idle_since < 5:
        await asyncio.sleep(0.05)
        if len(received) != seen:
            seen, idle_since = len(received), time.perf_counter()
    for transport, _ in conns:
        transport.close()
    seconds.send(received)


def subscriber_process(port: int, n: int, go: Connection, out: Connection) -> None:
    _fast_loop()
    asyncio.run(subscribe_all(port, n, go, out))


class Author(asyncio.Protocol):
    """One author connection: send one event, read the verdict."""

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


async def author(port: int, packet: bytes, run: Run, slots: asyncio.Semaphore) -> None:
    async with slots:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[bytes] = loop.create_future()
        ivorn = IVORN.search(packet[:1500]).group(1)  # type: ignore[union-attr]
        run.sent[ivorn] = time.perf_counter()
        await loop.create_connection(lambda: Author(packet, done), "127.0.0.1", port)
        reply = await done
        if b'role="ack"' in reply:
            run.acked += 1
            run.last_ack = time.perf_counter()
        else:
            run.naked += 1


async def send_all(port: int, packets: list[bytes], inflight: int, run: Run) -> None:
    slots = asyncio.Semaphore(inflight)
    run.first = time.perf_counter()
    await asyncio.gather(*(author(port, p, run, slots) for p in packets))


def drive(receive: int, broadcast: int, packets: list[bytes], n: int, inflight: int) -> Run:
    """Subscribers in a child process (own CPU and GIL), authors here; one shared clock."""
    context = multiprocessing.get_context("spawn")
    go_here, go_there = context.Pipe()
    out_here, out_there = context.Pipe()
    child = context.Process(target=subscriber_process, args=(broadcast, n, go_there, out_there))
    child.start()
    if go_here.recv() != "ready":
        raise SystemExit("subscribers did not connect")
    time.sleep(0.5)
    run = Run()
    _fast_loop()
    asyncio.run(send_all(receive, packets, inflight, run))
    go_here.send(run.acked * n)
    run.received = out_here.recv()
    child.join(30)
    return run


def _fast_loop() -> None:
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def summarise(name: str, n: int, run: Run) -> dict[str, float | str]:
    latencies = sorted(t - run.sent[i] for i, t in run.received if i in run.sent)
    unique_pairs = len(set(run.received))
    last = max((t for _, t in run.received), default=run.last_ack)
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return {
        "broker": name,
        "N": n,
        "accepted/s": run.acked / (run.last_ack - run.first),
        "delivered/s": len(run.received) / (last - run.first),
        "p50 ms": q[49] * 1e3,
        "p99 ms": q[98] * 1e3,
        "lost": run.acked * n - unique_pairs,
        "dup": len(run.received) - unique_pairs,
        "nak": run.naked,
    }


def bench_vohub(workdir: Path, packets: list[bytes], n: int, inflight: int) -> dict[str, object]:
    server = start_broker(workdir, name=f"vohub-{n}", iamalive=60.0)
    try:
        run = drive(server.receive[1], server.broadcast[1], packets, n, inflight)
    finally:
        server.stop()
    return summarise("vohub", n, run)


def bench_comet(workdir: Path, packets: list[bytes], n: int, inflight: int) -> dict[str, object]:
    comet = start_comet(workdir, CometOptions(verbose=False), name=f"comet-{n}")
    try:
        receive, broadcast = comet.receive_address[1], comet.broadcast_address[1]
        run = drive(receive, broadcast, packets, n, inflight)
    finally:
        comet.stop()
    return summarise("comet", n, run)


def median_run(runs: list[dict[str, object]]) -> dict[str, object]:
    """The run with the median delivered/s (lost and duplicated are summed over all runs)."""
    ordered = sorted(runs, key=lambda r: r["delivered/s"])  # type: ignore[arg-type, return-value]
    chosen = dict(ordered[len(ordered) // 2])
    for key in ("lost", "dup", "nak"):
        chosen[key] = sum(r[key] for r in runs)  # type: ignore[misc]
    return chosen


COLUMNS = ["broker", "N", "accepted/s", "delivered/s", "p50 ms", "p99 ms", "lost", "dup", "nak"]


def show(rows: list[dict[str, object]]) -> None:
    print(" | ".join(f"{c:>11}" for c in COLUMNS))
    for row in rows:
        cells = [
            f"{row[c]:>11.1f}" if isinstance(row[c], float) else f"{row[c]!s:>11}" for c in COLUMNS
        ]
        print(" | ".join(cells), flush=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--packets", type=int, default=2000)
    parser.add_argument("--subscribers", default="1,10,100")
    parser.add_argument("--inflight", type=int, default=8, help="author connections at once")
    parser.add_argument("--only", choices=["vohub", "comet"])
    parser.add_argument("--repeat", type=int, default=3, help="runs per cell; the median is kept")
    args = parser.parse_args(argv)
    base = load_packets(args.packets)
    print(
        f"{len(base)} packets, mean {sum(map(len, base)) / len(base):.0f} bytes, "
        f"{args.inflight} author connections in flight",
        flush=True,
    )
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="bench-broker-") as tmp:
        for n in (int(x) for x in args.subscribers.split(",")):
            runs: dict[str, list[dict[str, object]]] = {"vohub": [], "comet": []}
            for attempt in range(args.repeat):  # interleaved, so both see the same noise
                for name, bench in (("vohub", bench_vohub), ("comet", bench_comet)):
                    if args.only in (None, name):
                        tag = f"{name}{n}-{attempt}-{int(time.time())}"
                        where = Path(tmp) / tag
                        runs[name].append(bench(where, unique(base, tag), n, args.inflight))
                        show(runs[name][-1:])
            for name in ("vohub", "comet"):
                if runs[name]:
                    rows.append(median_run(runs[name]))
    print(f"\nmedian of {args.repeat} runs per cell (lost, dup, nak: totals over all runs)")
    show(rows)
    by = {(r["broker"], r["N"]): r for r in rows}
    for n in sorted({r["N"] for r in rows}):  # type: ignore[type-var]
        v, c = by.get(("vohub", n)), by.get(("comet", n))
        if v and c:
            print(
                f"N={n}: delivered/s vohub/comet = {v['delivered/s'] / c['delivered/s']:.1f}x, "  # type: ignore[operator]
                f"p99 vohub/comet = {v['p99 ms'] / c['p99 ms']:.2f}"  # type: ignore[operator]
            )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Benchmark the vohub broker against Comet 3.1.0 in one run: throughput, latency, loss.

Both brokers get the same load: real packets from data/tarballs/ (VOEvent 2.0, schema-valid,
IVORNs made unique per run), sent one event per author connection (as Comet expects) with
``--inflight`` connections at once, to N raw-socket subscribers that ack every event and
timestamp its receipt. Each broker is fresh for each N (new process, empty dedup store).
Comet runs from ``.peers/comet`` (Debian's Python, so its dedup store is dbm.ndbm); vohub as
``vohub broker`` with no archive (its spool still fsyncs every accepted packet).

    .venv/bin/python bench/bench_broker.py [--packets 2000] [--subscribers 1,10,100]

Prints one row per broker and N, then vohub/Comet ratios. Latency is from just before the
author writes the event to its receipt by a subscriber.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import struct
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
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
        out.append(IVORN.sub(lambda m: m.group(0)[:-1] + f"-{tag}-{i}\"".encode(), raw, 1))
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


async def subscriber(port: int, run: Run, ready: asyncio.Event, stop: asyncio.Event) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    buffer = b""
    while not stop.is_set():
        try:
            data = await asyncio.wait_for(reader.read(1 << 20), 0.5)
        except TimeoutError:
            continue
        if not data:
            break
        now = time.perf_counter()
        buffer += data
        replies = []
        while len(buffer) >= 4:
            size = PREFIX.unpack_from(buffer)[0]
            if len(buffer) < 4 + size:
                break
            payload, buffer = buffer[4 : 4 + size], buffer[4 + size :]
            head = payload[:1500]
            if b"Transport" in head:
                if b'role="authenticate"' in head:
                    ready.set()
                elif b'role="iamalive"' in head:
                    origin = ORIGIN.search(head)
                    replies.append(frame(ALIVE % (origin.group(1) if origin else b"")))
                continue
            match = IVORN.search(head)
            ivorn = match.group(1) if match else b"?"
            run.received.append((ivorn, now))
            replies.append(frame(ACK % ivorn))
        if replies:
            writer.write(b"".join(replies))
    writer.close()


async def author(port: int, packet: bytes, run: Run, slots: asyncio.Semaphore) -> None:
    async with slots:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        ivorn = IVORN.search(packet[:1500]).group(1)  # type: ignore[union-attr]
        run.sent[ivorn] = time.perf_counter()
        writer.write(frame(packet))
        head = await reader.readexactly(4)
        reply = await reader.readexactly(PREFIX.unpack(head)[0])
        if b'role="ack"' in reply:
            run.acked += 1
            run.last_ack = time.perf_counter()
        else:
            run.naked += 1
        writer.close()


async def drive(receive: int, broadcast: int, packets: list[bytes], n: int, inflight: int) -> Run:
    run, stop = Run(), asyncio.Event()
    readies = [asyncio.Event() for _ in range(n)]
    subs = [asyncio.create_task(subscriber(broadcast, run, r, stop)) for r in readies]
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 30)
    await asyncio.sleep(0.5)
    slots = asyncio.Semaphore(inflight)
    run.first = time.perf_counter()
    await asyncio.gather(*(author(receive, p, run, slots) for p in packets))
    expected, idle_since, seen = run.acked * n, time.perf_counter(), 0
    while len(run.received) < expected and time.perf_counter() - idle_since < 5:
        await asyncio.sleep(0.05)
        if len(run.received) != seen:
            seen, idle_since = len(run.received), time.perf_counter()
    stop.set()
    await asyncio.gather(*subs, return_exceptions=True)
    return run


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
        run = asyncio.run(drive(server.receive[1], server.broadcast[1], packets, n, inflight))
    finally:
        server.stop()
    return summarise("vohub", n, run)


def bench_comet(workdir: Path, packets: list[bytes], n: int, inflight: int) -> dict[str, object]:
    comet = start_comet(workdir, CometOptions(verbose=False), name=f"comet-{n}")
    try:
        receive, broadcast = comet.receive_address[1], comet.broadcast_address[1]
        run = asyncio.run(drive(receive, broadcast, packets, n, inflight))
    finally:
        comet.stop()
    return summarise("comet", n, run)


COLUMNS = ["broker", "N", "accepted/s", "delivered/s", "p50 ms", "p99 ms", "lost", "dup", "nak"]


def show(rows: list[dict[str, object]]) -> None:
    print(" | ".join(f"{c:>11}" for c in COLUMNS))
    for row in rows:
        cells = [f"{row[c]:>11.1f}" if isinstance(row[c], float) else f"{row[c]!s:>11}" for c in COLUMNS]
        print(" | ".join(cells), flush=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--packets", type=int, default=2000)
    parser.add_argument("--subscribers", default="1,10,100")
    parser.add_argument("--inflight", type=int, default=8, help="author connections at once")
    parser.add_argument("--only", choices=["vohub", "comet"])
    args = parser.parse_args(argv)
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:
        pass
    base = load_packets(args.packets)
    print(f"{len(base)} packets, mean {sum(map(len, base)) / len(base):.0f} bytes, "
          f"{args.inflight} author connections in flight", flush=True)
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="bench-broker-") as tmp:
        for n in (int(x) for x in args.subscribers.split(",")):
            for name, bench in (("vohub", bench_vohub), ("comet", bench_comet)):
                if args.only in (None, name):
                    packets = unique(base, f"{name}{n}-{int(time.time())}")
                    rows.append(bench(Path(tmp) / f"{name}{n}", packets, n, args.inflight))
                    show(rows[-1:])
    print()
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

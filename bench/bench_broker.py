"""Benchmark the vohub broker against Comet 3.1.0 in one run: throughput, latency, loss, CPU.

Every broker gets the same load: ``--packets`` real packets from data/tarballs/ (VOEvent 2.0,
schema-valid, IVORNs made unique per run), ``--inflight`` events in flight at once, to N
raw-socket subscribers (spread over ``--sub-procs`` processes) that ack every event and
timestamp its receipt. Each broker is fresh for each run (new process, empty dedup store).
Three ways of running, interleaved so that machine noise hits all alike:

* ``vohub``: one author connection, pipelined (vohub's opt-in extension, through
  :class:`vohub.vtp.client.Publisher`): ``--inflight`` events in flight on it;
* ``vohub-1c``: one connection per event, ``--inflight`` connections at once (plain VTP);
* ``comet``: Comet 3.1.0 from ``.peers/comet`` (Debian's Python, dedup in dbm.ndbm), one
  connection per event, ``--inflight`` at once: the only way Comet takes events (it acks,
  then closes; a second event on a connection is never acked).

vohub runs as ``vohub broker`` with no archive (its spool still fsyncs every accepted packet
before the ack). Latency runs from just before the author writes an event (or opens its
connection) to its receipt by a subscriber (``time.perf_counter``, CLOCK_MONOTONIC: one clock
for every process on the machine). Broker CPU is the broker's user+system time over the run,
per accepted event, its child processes included (vohub's judge and filter workers); "gen CPU"
is the load generator's (the author, and the subscriber processes until their last event), as
a share of one core.

Why 32 events in flight by default: Comet is CPU-bound and its throughput still rises up to
about 32 concurrent author connections (at 8 it idles between connections); past about 50
its listen backlog (Twisted's default, 50) overflows and SYN retransmits add 1 s latencies.
32 is the heaviest load at which Comet is measured at its best.

    .venv/bin/python bench/bench_broker.py [--packets 2000] [--subscribers 1,10,100]
        [--inflight 32] [--repeat 3] [--modes vohub,vohub-1c,comet] [--sub-procs 2]

Prints every run, then the median of each figure per mode and N over the repeats, then the
vohub/Comet ratios against the goal (≥ 10x Comet's delivered rate at N = 10, ≤ 1/5 of its p99).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vohub.testing.broker import start_broker
from vohub.testing.comet_broker import CometOptions, start_comet
from vohub.voevent.errors import VOEventError
from vohub.voevent.loader import parse

sys.path.insert(0, str(Path(__file__).resolve().parent))
from broker_loadgen import (
    IVORN,
    Run,
    fast_loop,
    one_per_event,
    pipelined,
    subscriber_process,
)

ROOT = Path(__file__).resolve().parents[1]
TARBALLS = sorted((ROOT / "data" / "tarballs").glob("*.tar.bz2"))
AUTHORS = {"vohub": "1 pipelined", "vohub-1c": "1 per event", "comet": "1 per event"}
TICK = os.sysconf("SC_CLK_TCK")


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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (all its threads) and its live children."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return _cpu(pid) + sum(_cpu(int(child)) for child in children)


def _cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except FileNotFoundError:  # a child that just exited
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


Load = Callable[[int, list[bytes], int, Run], Coroutine[Any, Any, None]]


@dataclass(frozen=True)
class Settings:
    """How one run loads its broker."""

    load: Load
    inflight: int
    procs: int


def drive(pid: int, ports: tuple[int, int], packets: list[bytes], n: int, how: Settings) -> Run:
    """Subscribers in child processes (own CPU and GIL), the author here; one shared clock."""
    context = multiprocessing.get_context("spawn")
    shares = [n // how.procs + (i < n % how.procs) for i in range(how.procs)]
    links, children = [], []
    for share in (s for s in shares if s):
        go_here, go_there = context.Pipe()
        out_here, out_there = context.Pipe()
        child = context.Process(
            target=subscriber_process, args=(ports[1], share, go_there, out_there)
        )
        child.start()
        links.append((share, go_here, out_here))
        children.append(child)
    for _, go, _ in links:
        if go.recv() != "ready":
            raise SystemExit("subscribers did not connect")
    time.sleep(0.5)
    run = Run()
    fast_loop()
    cpu, gen = cpu_seconds(pid), time.process_time()
    asyncio.run(how.load(ports[0], packets, how.inflight, run))
    for share, go, _ in links:
        go.send(run.acked * share)
    run.gen_cpu = time.process_time() - gen  # the author's share
    for _, _, out in links:
        received, subscribers_cpu = out.recv()
        run.received += received
        run.gen_cpu += subscribers_cpu
    run.broker_cpu = cpu_seconds(pid) - cpu
    for child in children:
        child.join(30)
    return run


def summarise(mode: str, n: int, run: Run) -> dict[str, object]:
    every = [pair for got in run.received for pair in got]
    latencies = sorted(t - run.sent[i] for i, t in every if i in run.sent)
    unique_pairs = sum(len({i for i, _ in got}) for got in run.received)  # per subscriber
    last = max((t for _, t in every), default=run.last_ack)
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    wall = max(last, run.last_ack) - run.first
    return {
        "broker": mode,
        "author conn": AUTHORS[mode],
        "N": n,
        "accepted/s": run.acked / (run.last_ack - run.first),
        "delivered/s": len(every) / (last - run.first),
        "p50 ms": q[49] * 1e3,
        "p99 ms": q[98] * 1e3,
        "lost": run.acked * n - unique_pairs,
        "dup": len(every) - unique_pairs,
        "nak": run.naked,
        "CPU ms/ev": run.broker_cpu / max(run.acked, 1) * 1e3,
        "gen CPU": run.gen_cpu / wall,
    }


def bench(
    mode: str, workdir: Path, packets: list[bytes], n: int, args: argparse.Namespace
) -> dict[str, object]:
    """One run: a fresh broker, one load, the broker stopped."""
    load = pipelined if mode == "vohub" else one_per_event
    settings = Settings(load, args.inflight, min(args.sub_procs, n))
    if mode == "comet":
        comet = start_comet(workdir, CometOptions(verbose=False), name=f"comet-{n}")
        try:
            ports = (comet.receive_address[1], comet.broadcast_address[1])
            run = drive(comet.process.pid, ports, packets, n, settings)
        finally:
            comet.stop()
    else:
        server = start_broker(workdir, name=f"{mode}-{n}", iamalive=60.0)
        try:
            ports = (server.receive[1], server.broadcast[1])
            run = drive(server.process.pid, ports, packets, n, settings)
        finally:
            server.stop()
    return summarise(mode, n, run)


def medians(runs: list[dict[str, object]]) -> dict[str, object]:
    """The median of each figure over the runs (lost, dup and nak: totals over all runs)."""
    out = dict(runs[0])
    for key in COLUMNS[3:]:
        values = [r[key] for r in runs]
        total = key in ("lost", "dup", "nak")
        out[key] = sum(values) if total else statistics.median(values)  # type: ignore[arg-type]
    return out


COLUMNS = ["broker", "author conn", "N", "accepted/s", "delivered/s", "p50 ms", "p99 ms",
           "lost", "dup", "nak", "CPU ms/ev", "gen CPU"]  # fmt: skip


def show(rows: list[dict[str, object]]) -> None:
    print(" | ".join(f"{c:>11}" for c in COLUMNS))
    for row in rows:
        cells = []
        for c in COLUMNS:
            value = row[c]
            text = f"{value:.0%}" if c == "gen CPU" else f"{value:.2f}" if c == "CPU ms/ev" else (
                f"{value:.1f}" if isinstance(value, float) else str(value))  # fmt: skip
            cells.append(f"{text:>11}")
        print(" | ".join(cells), flush=True)


def compare(rows: list[dict[str, object]]) -> None:
    by = {(r["broker"], r["N"]): r for r in rows}
    for n in sorted({r["N"] for r in rows}):  # type: ignore[type-var]
        comet = by.get(("comet", n))
        for mode in ("vohub", "vohub-1c"):
            mine = by.get((mode, n))
            if mine and comet:
                rate = mine["delivered/s"] / comet["delivered/s"]  # type: ignore[operator]
                p99 = mine["p99 ms"] / comet["p99 ms"]  # type: ignore[operator]
                goal = " (goal at N=10: >= 10x, <= 0.20)" if n == 10 else ""
                print(f"N={n} {mode}/comet: delivered/s {rate:.1f}x, p99 {p99:.2f}{goal}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--packets", type=int, default=2000)
    parser.add_argument("--subscribers", default="1,10,100")
    parser.add_argument("--inflight", type=int, default=32, help="events in flight at once")
    parser.add_argument("--modes", default="vohub,vohub-1c,comet")
    parser.add_argument("--sub-procs", type=int, default=2, help="subscriber processes")
    parser.add_argument("--repeat", type=int, default=3, help="runs per cell; medians are kept")
    args = parser.parse_args(argv)
    modes = args.modes.split(",")
    base = load_packets(args.packets)
    print(
        f"{len(base)} packets, mean {sum(map(len, base)) / len(base):.0f} bytes, "
        f"{args.inflight} events in flight; author connections: vohub = one pipelined "
        "connection (vohub extension); vohub-1c and comet = one connection per event "
        "(the only way Comet takes events)",
        flush=True,
    )
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="bench-broker-") as tmp:
        for n in (int(x) for x in args.subscribers.split(",")):
            runs: dict[str, list[dict[str, object]]] = {m: [] for m in modes}
            for attempt in range(args.repeat):  # interleaved, so all see the same noise
                for mode in modes:
                    tag = f"{mode}{n}-{attempt}-{int(time.time())}"
                    where = Path(tmp) / tag
                    runs[mode].append(bench(mode, where, unique(base, tag), n, args))
                    show(runs[mode][-1:])
            rows += [medians(runs[m]) for m in modes]
    print(f"\nmedian of {args.repeat} runs per cell (lost, dup, nak: totals over all runs)")
    show(rows)
    compare(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

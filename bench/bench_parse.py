"""Parse throughput on one core: bare lxml, lxml + XSD, and vohub.voevent lenient and strict.

Reads every packet of data/tarballs/2016-09.001.tar.bz2 into memory (39 740 real packets),
pins the process to one CPU, and times each way of reading them over ``--repeat`` passes.
The readers take turns chunk by chunk (500 packets each, the order rotating), so a busy
neighbour on a shared machine slows them all alike instead of whichever ran at the time;
each rate is the total over all passes, and the lenient/bare ratio is also shown per pass.
The target is vohub lenient parse + model extraction at >= 50 % of the bare
``lxml.etree.fromstring`` rate.

    python bench/bench_parse.py [--tarball PATH] [--repeat N] [--limit N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tarfile
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from lxml import etree

from vohub.voevent import parse

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TARBALL = ROOT / "data" / "tarballs" / "2016-09.001.tar.bz2"
TARGET = 0.5
CHUNK = 500
Reader = Callable[[bytes], object]


def load(path: Path, limit: int | None) -> list[bytes]:
    """Every packet of a bz2 tarball, as bytes."""
    packets: list[bytes] = []
    with tarfile.open(path, "r:bz2") as archive:
        for member in archive:
            handle = archive.extractfile(member) if member.isfile() else None
            if handle is not None:
                packets.append(handle.read())
            if limit is not None and len(packets) >= limit:
                break
    return packets


def pin_to_one_core() -> str:
    """Restrict this process to a single CPU (Linux); describe what was done."""
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity)"
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return f"pinned to CPU {cpu}"


def interleaved_seconds(packets: list[bytes], readers: list[Reader]) -> list[float]:
    """Seconds each reader spends on all packets, the readers taking turns chunk by chunk."""
    spent = [0.0] * len(readers)
    for number, start in enumerate(range(0, len(packets), CHUNK)):
        chunk = packets[start : start + CHUNK]
        for turn in range(len(readers)):
            index = (number + turn) % len(readers)
            work = readers[index]
            begin = time.perf_counter()
            for data in chunk:
                work(data)
            spent[index] += time.perf_counter() - begin
    return spent


def xsd_validator() -> Callable[[bytes], object]:
    """Bare lxml parse + validation against the shipped VOEvent 2.0 XSD."""
    text = resources.files("vohub.voevent").joinpath("schema", "VOEvent-v2.0.xsd").read_bytes()
    schema = etree.XMLSchema(etree.fromstring(text))
    return lambda data: schema.validate(etree.fromstring(data))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tarball", type=Path, default=DEFAULT_TARBALL)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--limit", type=int, default=None, help="use only the first N packets")
    args = parser.parse_args(argv)
    pinned = pin_to_one_core()
    packets = load(args.tarball, args.limit)
    print(f"{len(packets)} packets from {args.tarball.name}, {pinned}, {args.repeat} passes")
    for data in packets[:2000]:  # warm-up: schema compilation, interning caches, allocator
        parse(data)
    names = [
        "lxml.etree.fromstring (bare)",
        "lxml + XSD 2.0 validation",
        "vohub parse (lenient) + model",
        "vohub parse (strict) + model",
    ]
    readers: list[Reader] = [
        etree.fromstring,
        xsd_validator(),
        parse,
        lambda d: parse(d, strict=True),
    ]
    passes = [interleaved_seconds(packets, readers) for _ in range(args.repeat)]
    totals = [sum(seconds) for seconds in zip(*passes, strict=True)]
    rates = [len(packets) * args.repeat / total for total in totals]
    print(f"{'reader':34} {'packets/s':>10} {'vs bare':>8}")
    for name, value in zip(names, rates, strict=True):
        print(f"{name:34} {value:10.0f} {value / rates[0]:8.2f}")
    per_pass = [seconds[0] / seconds[2] for seconds in passes]
    print("lenient / bare per pass: " + " ".join(f"{r:.2f}" for r in per_pass))
    ratio = rates[2] / rates[0]
    verdict = "meets" if ratio >= TARGET else "MISSES"
    print(
        f"lenient parse + model = {ratio:.2f} x bare parse (median pass "
        f"{statistics.median(per_pass):.2f}): {verdict} the {TARGET:.0%} target"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

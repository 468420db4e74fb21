"""Parse throughput on one core: bare lxml, lxml + XSD, and vohub.voevent lenient and strict.

Reads every packet of data/tarballs/2016-09.001.tar.bz2 into memory (39 740 real packets),
pins the process to one CPU, and times each way of reading them, best of ``--repeat``
passes.  The target is vohub lenient parse + model extraction at >= 50 % of the bare
``lxml.etree.fromstring`` rate.

    python bench/bench_parse.py [--tarball PATH] [--repeat N] [--limit N]
"""

from __future__ import annotations

import argparse
import os
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


def rate(packets: list[bytes], work: Callable[[bytes], object], repeat: int) -> float:
    """Packets per second, best of ``repeat`` passes."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for data in packets:
            work(data)
        best = min(best, time.perf_counter() - start)
    return len(packets) / best


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
    print(f"{len(packets)} packets from {args.tarball.name}, {pinned}, best of {args.repeat}")
    for data in packets[:2000]:  # warm-up: schema compilation, interning caches, allocator
        parse(data)
    rows = [
        ("lxml.etree.fromstring (bare)", rate(packets, etree.fromstring, args.repeat)),
        ("lxml + XSD 2.0 validation", rate(packets, xsd_validator(), args.repeat)),
        ("vohub parse (lenient) + model", rate(packets, parse, args.repeat)),
        (
            "vohub parse (strict) + model",
            rate(packets, lambda d: parse(d, strict=True), args.repeat),
        ),
    ]
    bare = rows[0][1]
    print(f"{'reader':34} {'packets/s':>10} {'vs bare':>8}")
    for name, value in rows:
        print(f"{name:34} {value:10.0f} {value / bare:8.2f}")
    ratio = rows[2][1] / bare
    verdict = "meets" if ratio >= TARGET else "MISSES"
    print(f"lenient parse + model = {ratio:.2f} x bare parse: {verdict} the {TARGET:.0%} target")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Closed-loop HTTP load generator for bench_gateway.py, run in separate processes.

Each process runs a few threads; each thread sends GETs back to back over a keep-alive
connection (reconnecting when the server closes it) and records every latency.
"""

from __future__ import annotations

import http.client
import multiprocessing
import threading
import time
from urllib.parse import urlsplit


def _worker(
    base: str, paths: list[str], threads: int, seconds: float, seed: int
) -> tuple[list[float], int]:
    host = urlsplit(base)
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    end = time.perf_counter() + seconds

    def loop(index: int) -> None:
        conn = http.client.HTTPConnection(host.hostname, host.port, timeout=120)
        mine: list[float] = []
        bad = 0
        i = seed * 7919 + index * 104729
        while time.perf_counter() < end:
            path = paths[i % len(paths)]
            i += 1
            started = time.perf_counter()
            try:
                conn.request("GET", path)
                reply = conn.getresponse()
                reply.read()
                if reply.status != 200:
                    bad += 1
                if reply.getheader("Connection", "").lower() == "close":
                    conn.close()
            except (OSError, http.client.HTTPException):
                bad += 1
                conn.close()
                conn = http.client.HTTPConnection(host.hostname, host.port, timeout=120)
                continue
            mine.append(time.perf_counter() - started)
        conn.close()
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    pool = [threading.Thread(target=loop, args=(k,)) for k in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return latencies, errors[0]


def run_load(base: str, paths: list[str], concurrency: int, seconds: float,
             processes: int = 2) -> dict[str, float]:  # fmt: skip
    """Requests/s, p50 and p99 (ms) and error count of ``concurrency`` closed-loop clients."""
    per = max(1, concurrency // processes)
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        jobs = [pool.apply_async(_worker, (base, paths, per, seconds, k)) for k in range(processes)]
        parts = [job.get(timeout=seconds + 300) for job in jobs]
    latencies = sorted(x for part in parts for x in part[0])
    errors = sum(part[1] for part in parts)
    if not latencies:
        return {"rps": 0.0, "p50": float("nan"), "p99": float("nan"), "errors": float(errors)}

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    return {"rps": len(latencies) / seconds, "p50": pct(0.50), "p99": pct(0.99),
            "errors": float(errors)}  # fmt: skip

"""The archive's Prometheus metrics, in a registry of their own (one per running service)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class Metrics:
    """Ingest outcomes and rpc latencies, served on the ops ``/metrics`` endpoint.

    >>> m = Metrics()
    >>> m.ingested.labels("stored").inc(3)
    >>> m.registry.get_sample_value("vohub_archive_ingest_packets_total", {"outcome": "stored"})
    3.0
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.ingested = Counter(
            "vohub_archive_ingest_packets",
            "Packets offered to Ingest, by outcome",
            ["outcome"],
            registry=self.registry,
        )
        self.rpc_seconds = Histogram(
            "vohub_archive_rpc_seconds",
            "Time to answer an Archive rpc, by rpc and status code",
            ["rpc", "code"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0),
            registry=self.registry,
        )

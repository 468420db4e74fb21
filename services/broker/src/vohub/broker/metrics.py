"""The broker's Prometheus metrics, in a registry of their own so tests can run several brokers."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class Metrics:
    """Every counter and gauge the broker exports.

    >>> m = Metrics()
    >>> m.rejected.labels(path="author", reason="conflict").inc()
    >>> m.registry.get_sample_value(
    ...     "vohub_broker_rejected_total", {"path": "author", "reason": "conflict"})
    1.0
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.received = Counter(
            "vohub_broker_received", "Packets received, by path", ["path"], registry=r
        )
        self.accepted = Counter(
            "vohub_broker_accepted", "Packets accepted (new, durable)", ["path"], registry=r
        )
        self.rejected = Counter(
            "vohub_broker_rejected",
            "Packets not accepted, by path and reason (duplicate and conflict included)",
            ["path", "reason"],
            registry=r,
        )
        self.delivered = Counter(
            "vohub_broker_delivered", "Packets handed to subscribers", ["kind"], registry=r
        )
        self.subscribers = Gauge(
            "vohub_broker_subscribers", "Connected subscribers", ["kind"], registry=r
        )
        self.replies = Counter(
            "vohub_broker_subscriber_replies",
            "Acks and iamalive replies received from VTP subscribers",
            ["role"],
            registry=r,
        )
        self.dropped = Counter(
            "vohub_broker_subscribers_dropped",
            "Subscribers disconnected by the broker, by reason",
            ["reason"],
            registry=r,
        )
        self.oversize_skipped = Counter(
            "vohub_broker_oversize_skipped",
            "Packets not sent to a VTP peer because they exceed its frame limit",
            registry=r,
        )
        self.filter_timeouts = Counter(
            "vohub_broker_filter_timeouts",
            "Filters removed (their subscriber dropped) for exceeding their time budget",
            registry=r,
        )
        self.filter_crashes = Counter(
            "vohub_broker_filter_crashes",
            "Filters removed (their subscriber dropped) for killing the filter worker",
            registry=r,
        )
        self.spool_depth = Gauge(
            "vohub_broker_spool_depth", "Spooled packets not yet stored by the archive", registry=r
        )
        self.storage_failures = Counter(
            "vohub_broker_storage_failures",
            "Spool writes (or fsyncs) that failed, each refusing every packet it carried",
            registry=r,
        )
        self.archived = Counter(
            "vohub_broker_archived",
            "Archive outcomes of forwarded packets",
            ["outcome"],
            registry=r,
        )
        self.archive_errors = Counter(
            "vohub_broker_archive_errors", "Failed Ingest calls (retried)", ["code"], registry=r
        )
        self.handler_runs = Counter(
            "vohub_broker_handler_runs", "Local handler runs by outcome", ["outcome"], registry=r
        )
        self.handler_failures = Counter(
            "vohub_broker_handler_failures",
            "Local handler failures (non-zero exit, timeout, start failure, overflow, or killed"
            " or not run because the broker stopped)",
            ["reason"],
            registry=r,
        )

    def value(self, name: str, **labels: str) -> float:
        """The current value of a sample (0.0 when never set), for tests and health details."""
        return self.registry.get_sample_value(name, labels) or 0.0

"""``vohub broker``: run the broker with Comet-like flags over the ``[broker]`` configuration."""

from __future__ import annotations

import argparse
import asyncio
import gc
import signal
import sys
from pathlib import Path
from typing import Any

from vohub.broker import config as broker_config
from vohub.broker import logfast
from vohub.broker.errors import SeenStoreUnusable, SpoolCorrupt, SpoolInUse
from vohub.common import aio
from vohub.common.errors import CommonError
from vohub.common.logs import configure, get_logger

log = get_logger("vohub.broker")

#: flag dest -> config key, for flags whose value goes straight into the configuration.
_FLAGS = {
    "receive": "receive",
    "broadcast": "broadcast",
    "grpc": "grpc",
    "metrics": "metrics",
    "remote": "remote",
    "local_ivo": "local_ivo",
    "author_whitelist": "author_whitelist",
    "subscriber_whitelist": "subscriber_whitelist",
    "filter": "filter",
    "exec": "exec",
    "archive": "archive",
    "data_dir": "data_dir",
    "validation": "validation",
    "iamalive_interval": "iamalive_interval",
    "duplicate_reply": "duplicate_reply",
    "relay": "relay",
    "log_level": "log_level",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The broker's flags; each overrides the ``[broker]`` key of the same name."""
    add = parser.add_argument
    add("--config", type=Path, help="TOML file with a [broker] section (or $VOHUB_CONFIG)")
    add("--receive", metavar="HOST:PORT", help="VTP author port (default 127.0.0.1:8098)")
    add("--broadcast", metavar="HOST:PORT", help="VTP subscriber port (default 127.0.0.1:8099)")
    add("--grpc", metavar="HOST:PORT", help="gRPC Publish/Subscribe (default 127.0.0.1:50052)")
    add("--metrics", metavar="HOST:PORT", help="serve /metrics and /healthz here")
    add("--remote", metavar="HOST[:PORT]", action="append", help="upstream broker (repeatable)")
    add("--local-ivo", metavar="IVOID", help="this broker's IVOID")
    add("--author-whitelist", metavar="CIDR", action="append", help="repeatable")
    add("--subscriber-whitelist", metavar="CIDR", action="append", help="repeatable")
    add("--filter", metavar="XPATH", action="append", help="XPath filter sent upstream")
    add("--exec", metavar="CMD", action="append", help="run CMD per packet, packet on stdin")
    add("--archive", metavar="HOST:PORT", help="archive gRPC address")
    add("--data-dir", type=Path, help="spool and dedup store folder (default ./var/broker)")
    add("--validation", choices=["strict", "lenient"])
    add("--iamalive-interval", type=float, metavar="S", help="heartbeat period (default 60)")
    add("--duplicate-reply", choices=["nak", "ack"], help="answer to an exact repeat")
    add("--relay", choices=["accepted", "durable"], help="relay before or after the fsync")
    add("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"])


def run(args: argparse.Namespace) -> int:
    """Load the configuration, then serve until SIGTERM or SIGINT; 2 on a configuration error
    or an unusable data folder, 1 if a port cannot be bound."""
    overrides: dict[str, Any] = {key: getattr(args, dest) for dest, key in _FLAGS.items()}
    try:
        config = broker_config.load(args.config, overrides=overrides)
    except CommonError as exc:
        print(f"vohub broker: configuration error: {exc}", file=sys.stderr)
        return 2
    configure("broker", level=config.log_level, fmt=config.log_format)
    logfast.install("broker")
    return aio.run(_serve(config))


async def _serve(config: broker_config.BrokerConfig) -> int:
    from vohub.broker.app import BrokerApp

    try:
        app = BrokerApp(config)
    except (OSError, SpoolInUse, SpoolCorrupt, SeenStoreUnusable) as exc:
        # the data folder (in the way, another broker's, a file in it unreadable): retrying
        # cannot help, and the error names the file and what is wrong with it
        log.error("broker.start_failed", error=str(exc))
        return 2
    try:
        await app.start()
    except OSError as exc:
        log.error("broker.start_failed", error=str(exc))
        await app.stop(grace=0)
        return 1
    # Everything allocated so far lives as long as the process: keep the cyclic collector off
    # it and let it run less often, so its pauses stay out of the relay latency (p99 4 -> 1 ms).
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await app.stop()
    return 0

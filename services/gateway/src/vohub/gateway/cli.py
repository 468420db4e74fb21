"""``vohub gateway``: serve the HTTP API with gunicorn in front of the archive's gRPC API."""

from __future__ import annotations

import argparse
import runpy
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

from vohub.common.errors import CommonError
from vohub.common.logs import configure, get_logger
from vohub.gateway import config as gateway_config
from vohub.gateway.config import GatewayConfig

GUNICORN_CONF = Path(__file__).with_name("gunicorn.conf.py")
#: Bytes of a request line besides its target: the method, two spaces and ``HTTP/1.1``.
REQUEST_LINE_EXTRA = 32
log = get_logger("vohub.gateway")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``vohub gateway`` (each overrides the ``[gateway]`` setting of the same name)."""
    parser.add_argument("--config", type=Path, help="TOML configuration file")
    parser.add_argument("--bind", help="HTTP listen address HOST:PORT (default 127.0.0.1:8080)")
    parser.add_argument(
        "--archive",
        help="archive gRPC address HOST:PORT (default 127.0.0.1:50051), or IP:PORT,IP:PORT,... "
        "to spread calls over several archives",
    )
    parser.add_argument("--workers", type=int, help="gunicorn worker processes (default 2)")
    parser.add_argument("--public-url", help="public base URL, for docs and OpenAPI links")
    parser.add_argument("--metrics-dir", type=Path, help="prometheus multiprocess directory")
    parser.add_argument("--log-level", help="log level (default INFO)")
    parser.add_argument("--log-format", choices=["kv", "json"], help="log line format")


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    names = ("bind", "archive", "workers", "public_url", "metrics_dir")
    values = {name: getattr(args, name, None) for name in names}
    values["log_level"] = getattr(args, "log_level", None)
    values["log_format"] = getattr(args, "log_format", None)
    return values


def run(args: argparse.Namespace) -> int:
    """Load the configuration, prepare shared metrics, and run gunicorn until stopped."""
    try:
        config = gateway_config.load(args.config, _overrides(args))
    except CommonError as exc:
        print(f"vohub gateway: configuration error: {exc}", file=sys.stderr)
        return 2
    configure("gateway", level=config.log_level, fmt=config.log_format)
    metrics_dir, temporary = _metrics_dir(config)
    gateway_config.set_metrics_dir(metrics_dir)
    try:
        log.info(
            "gateway.starting",
            bind=config.bind,
            archive=config.archive,
            workers=config.workers,
        )
        GatewayApplication(config).run()
    finally:
        if temporary:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


def _metrics_dir(config: GatewayConfig) -> tuple[Path, bool]:
    """A clean directory for this run's multiprocess metric files, and whether it is ours."""
    if config.metrics_dir is None:
        return Path(tempfile.mkdtemp(prefix="vohub-gateway-metrics-")), True
    config.metrics_dir.mkdir(parents=True, exist_ok=True)
    for stale in config.metrics_dir.glob("*.db"):
        stale.unlink()
    return config.metrics_dir, False


def gunicorn_settings(config: GatewayConfig) -> dict[str, Any]:
    """Every gunicorn setting: the package's gunicorn.conf.py, then the typed configuration.

    >>> settings = gunicorn_settings(GatewayConfig(workers=3))
    >>> settings["workers"], settings["worker_class"]
    (3, 'vohub.gateway.worker.JsonErrorWorker')

    gunicorn's request-line limit grows with ``max_uri_bytes``, so that a longer target the
    configuration allows reaches the app instead of gunicorn's own 414.
    """
    values = {
        k: v
        for k, v in runpy.run_path(str(GUNICORN_CONF)).items()
        if not k.startswith("_") and k not in ("annotations", "Any")
    }
    values.update(
        bind=[config.bind],
        workers=config.workers,
        timeout=config.timeout,
        graceful_timeout=config.graceful_timeout,
        max_requests=config.max_requests,
        max_requests_jitter=config.max_requests // 10,
        loglevel=config.log_level.lower(),
    )
    values["limit_request_line"] = max(
        values["limit_request_line"], config.max_uri_bytes + REQUEST_LINE_EXTRA
    )
    return values


class GatewayApplication(BaseApplication):
    """gunicorn embedded: settings from :func:`gunicorn_settings`, the app built per worker."""

    def __init__(self, config: GatewayConfig) -> None:
        self.gateway_config = config
        super().__init__()

    def load_config(self) -> None:
        """Apply every known gunicorn setting."""
        from vohub.gateway import glog

        glog.FORMAT = self.gateway_config.log_format
        for key, value in gunicorn_settings(self.gateway_config).items():
            if key in self.cfg.settings:
                self.cfg.set(key, value)

    def load(self) -> Any:
        """Build the ASGI app in the worker (after fork), with its own archive channel."""
        from vohub.gateway.app import create_app

        return create_app(self.gateway_config)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m vohub.gateway``."""
    parser = argparse.ArgumentParser(prog="vohub gateway", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))

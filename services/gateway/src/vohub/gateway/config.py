"""The gateway's typed configuration: ``[gateway]`` of the TOML file, ``VOHUB_GATEWAY__*``, flags.

This is the only gateway module that reads files or the environment.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from vohub.common.addresses import parse_address
from vohub.common.config import checked, load_config
from vohub.common.logs import check_level
from vohub.gateway.archive_client import channel_target

#: Environment variable prometheus_client reads to share metrics between gunicorn workers.
METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"


def _address(value: str) -> None:
    parse_address(value)


def _archives(value: str) -> None:
    channel_target(value)


def _positive(value: float) -> None:
    if value <= 0:
        raise ValueError(f"must be positive, not {value!r}")


def _not_negative(value: int) -> None:
    if value < 0:
        raise ValueError(f"must not be negative, not {value!r}")


_ORIGIN = re.compile(r"https?://[^/?#\s]+")


def _origin(value: str) -> None:
    if value != "*" and not _ORIGIN.fullmatch(value):
        raise ValueError(f"not '*' nor an origin such as https://example.org: {value!r}")


def _workers(value: int) -> None:
    if not 1 <= value <= 64:
        raise ValueError(f"must be between 1 and 64, not {value!r}")


@dataclass(frozen=True)
class GatewayConfig:
    """Settings of ``vohub gateway``.

    >>> GatewayConfig().bind, GatewayConfig().archive
    ('127.0.0.1:8080', '127.0.0.1:50051')
    """

    #: HTTP listen address.
    bind: str = checked("127.0.0.1:8080", _address)
    #: The archive's gRPC address, or a comma-separated list of archive IP:PORTs (round-robin).
    archive: str = checked("127.0.0.1:50051", _archives)
    #: gunicorn worker processes (each an asyncio event loop).
    workers: int = checked(2, _workers)
    #: Seconds before gunicorn restarts a silent worker, and grace on shutdown.
    timeout: int = checked(30, _positive)
    graceful_timeout: int = checked(10, _positive)
    #: Restart a worker after this many requests (0 = never), to bound any leak.
    max_requests: int = checked(0, _not_negative)
    #: Deadline of one archive call, and retries on UNAVAILABLE.
    archive_deadline_s: float = checked(5.0, _positive)
    archive_retries: int = checked(2, _not_negative)
    #: Longest request target (path and query) accepted, in bytes; longer gets 414.
    max_uri_bytes: int = checked(8000, _positive)
    #: Web origins whose pages may read the API (CORS): ``*`` is any, an empty list none.
    cors_origins: list[str] = checked(["*"], _origin, each=True)
    #: Public base URL used in ``docs_url`` and the OpenAPI ``servers`` (None: from Host).
    public_url: str | None = None
    #: Directory for prometheus_client multiprocess files (None: a fresh temporary one).
    metrics_dir: Path | None = None
    #: Least severe log records shown (DEBUG, INFO, WARNING, ERROR or CRITICAL; any case).
    log_level: str = checked("INFO", check_level)
    log_format: Literal["kv", "json"] = "kv"


def load(
    path: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> GatewayConfig:
    """Load the configuration from defaults, file, environment and ``overrides``.

    >>> load(overrides={"workers": 3}, env={"VOHUB_GATEWAY__ARCHIVE": "10.0.0.2:50051"})
    ... # doctest: +ELLIPSIS
    GatewayConfig(bind='127.0.0.1:8080', archive='10.0.0.2:50051', workers=3, ...)
    """
    return load_config(GatewayConfig, "gateway", path=path, env=env, overrides=overrides)


def set_metrics_dir(directory: Path) -> None:
    """Point prometheus_client at ``directory`` (before it is imported by any process)."""
    os.environ[METRICS_DIR_ENV] = str(directory)


def metrics_dir_from_env() -> Path | None:
    """The multiprocess metrics directory, when one is configured for this process."""
    value = os.environ.get(METRICS_DIR_ENV)
    return Path(value) if value else None

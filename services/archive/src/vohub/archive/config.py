"""The archive's configuration: ``[archive]`` of the TOML file, ``VOHUB_ARCHIVE__*``, flags.

``db`` is a SQLAlchemy URL; empty means the embedded default, SQLite at
``<data_dir>/archive.db``, the file ``vohub up`` uses too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from vohub.common.addresses import parse_address
from vohub.common.config import checked, load_config
from vohub.common.logs import check_level

DEFAULT_GRPC = "127.0.0.1:50051"
DEFAULT_OPS = "127.0.0.1:9151"


def _address(text: str) -> None:
    parse_address(text)


def _optional_address(text: str) -> None:
    if text:
        parse_address(text)


def _database_url(text: str) -> None:
    if text and "://" not in text:
        raise ValueError(f"not a database URL: {text!r} (e.g. sqlite:///hub.db)")
    if text and not text.startswith(("sqlite:", "postgresql:", "postgresql+psycopg2:")):
        raise ValueError(f"unsupported database {text.split(':', 1)[0]!r} (sqlite or postgresql)")


def _positive(value: int) -> None:
    if value <= 0:
        raise ValueError(f"must be positive, not {value}")


@dataclasses.dataclass(frozen=True)
class ArchiveConfig:
    """Every setting of ``vohub archive``; defaults suit a laptop."""

    #: SQLAlchemy URL of the store ("" = SQLite in data_dir).
    db: str = checked("", _database_url)
    #: Folder for the embedded SQLite database.
    data_dir: Path = Path("var")
    #: gRPC listen address.
    grpc: str = checked(DEFAULT_GRPC, _address)
    #: HTTP address for /metrics and /healthz ("" = off).
    ops: str = checked(DEFAULT_OPS, _optional_address)
    #: Largest Ingest batch accepted.
    max_batch: int = checked(5000, _positive)
    #: Largest List page.
    max_list_limit: int = checked(10_000, _positive)
    #: Database connections kept open (PostgreSQL).
    pool_size: int = checked(8, _positive)
    #: Threads answering gRPC calls (each call holds one from request to reply; more calls wait
    #: in gRPC's queue). Few: threads of one process share one interpreter lock, and 16 made
    #: every call cost 10-20 % more CPU than 4; 2 shortened the latency tail but answered
    #: 10-18 % fewer calls/s. Run more archive servers to use more cores.
    grpc_workers: int = checked(4, _positive)
    #: Packets per transaction on import.
    import_batch: int = checked(1000, _positive)
    #: Least severe log records shown (DEBUG, INFO, WARNING, ERROR or CRITICAL; any case).
    log_level: str = checked("INFO", check_level)
    log_format: Literal["kv", "json"] = "kv"

    @property
    def database_url(self) -> str:
        """The URL actually used."""
        return self.db or f"sqlite:///{self.data_dir / 'archive.db'}"


def load(
    path: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> ArchiveConfig:
    """The archive configuration from file, environment and overrides (ConfigError on faults).

    >>> load(env={}).database_url
    'sqlite:///var/archive.db'
    >>> load(env={"VOHUB_ARCHIVE__MAX_BATCH": "0"})
    Traceback (most recent call last):
    ...
    vohub.common.errors.ConfigError: archive.max_batch: must be positive, not 0
    """
    return load_config(ArchiveConfig, "archive", path=path, env=env, overrides=overrides)

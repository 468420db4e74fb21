"""The broker's typed configuration: ``[broker]`` in the TOML file, ``VOHUB_BROKER__*``, flags.

Every setting is checked at start-up; a bad one stops the broker with a message naming the
dotted key, e.g. ``broker.author_whitelist[2]: not a CIDR network: '10.0.0.0/33'``. This is the
only module of the broker that reads files or the environment.
"""

from __future__ import annotations

import ipaddress
import shlex
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from lxml import etree

from vohub.common.addresses import Address, parse_address
from vohub.common.config import checked, load_config
from vohub.common.errors import AddressError, CommonError
from vohub.voevent.errors import InvalidIvorn
from vohub.voevent.ivorn import parse_ivorn
from vohub.voevent.xmlsafe import MAX_BYTES

#: Comet (Twisted's ``Int32StringReceiver``) hangs up on frames above this many bytes.
COMET_FRAME_LIMIT = 99_999
#: Comet subscribers reconnect after 120 s without a message; pygcn after 150 s.
PEER_SILENCE_LIMIT = 120.0

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _cidr(value: str) -> None:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ValueError(f"not a CIDR network: {value!r}") from None


def _address(value: str | None) -> None:
    if value:
        try:
            parse_address(value)
        except AddressError as exc:
            raise ValueError(exc.message) from None


def _remote(value: str) -> None:
    try:
        parse_address(value, default_port=8099)
    except AddressError as exc:
        raise ValueError(exc.message) from None


def _ivoid(value: str) -> None:
    try:
        parse_ivorn(value)
    except InvalidIvorn as exc:
        raise ValueError(f"not an IVOID: {value!r} ({exc.reason})") from None


def _xpath(value: str) -> None:
    try:
        etree.XPath(value)
    except etree.XPathSyntaxError as exc:
        raise ValueError(f"XPath {value!r} does not compile: {exc}") from None


def _command(value: str) -> None:
    try:
        argv = shlex.split(value)
        if not argv:
            raise ValueError("empty command")
    except ValueError as exc:
        raise ValueError(f"not a command line: {value!r} ({exc})") from None
    if shutil.which(argv[0]) is None:  # else every packet would fail to run it
        raise ValueError(f"{argv[0]!r} is not an executable (command {value!r})")


def _positive(value: float) -> None:
    if value <= 0:
        raise ValueError(f"must be positive, not {value!r}")


def _judges(value: int) -> None:
    if value not in (0, 1):
        raise ValueError(f"must be 0 (in the broker process) or 1, not {value!r}")


def _heartbeat(value: float) -> None:
    if not 0 < value < PEER_SILENCE_LIMIT:
        raise ValueError(
            f"must be between 0 and {PEER_SILENCE_LIMIT:g} s exclusive (Comet subscribers "
            f"hang up after {PEER_SILENCE_LIMIT:g} s of silence), not {value!r}"
        )


def _outbound(value: int) -> None:
    if not 0 < value <= COMET_FRAME_LIMIT:
        raise ValueError(f"must be between 1 and {COMET_FRAME_LIMIT} (Comet's frame limit)")


def _inbound(value: int) -> None:
    if not COMET_FRAME_LIMIT <= value <= MAX_BYTES:
        raise ValueError(
            f"must be between {COMET_FRAME_LIMIT} (what Comet accepts) and {MAX_BYTES} bytes "
            f"(what the archive stores: a larger packet would be acknowledged, then lost)"
        )


@dataclass(frozen=True)
class BrokerConfig:
    """Every broker setting, with its default. Addresses are ``HOST:PORT`` strings."""

    # --- where it listens ("" turns a listener off)
    receive: str = checked("127.0.0.1:8098", _address)
    broadcast: str = checked("127.0.0.1:8099", _address)
    grpc: str = checked("127.0.0.1:50052", _address)
    metrics: str = checked("", _address)
    # --- identity, peers and access
    local_ivo: str = checked("ivo://vohub.local/broker", _ivoid)
    remote: list[str] = checked([], _remote, each=True)
    filter: list[str] = checked([], _xpath, each=True)
    author_whitelist: list[str] = checked(["127.0.0.0/8", "::1/128"], _cidr, each=True)
    subscriber_whitelist: list[str] = checked(["0.0.0.0/0", "::/0"], _cidr, each=True)
    # --- acceptance
    validation: Literal["strict", "lenient"] = "strict"
    #: Processes that parse and XSD-check VTP authors' packets off the event loop (0: the
    #: broker's own process does it; at most 1 for now: dedup needs one ordered stream).
    judge_workers: int = checked(1, _judges)
    max_inbound_bytes: int = checked(MAX_BYTES, _inbound)
    max_outbound_vtp_bytes: int = checked(COMET_FRAME_LIMIT, _outbound)
    author_timeout: float = checked(20.0, _positive)
    #: Grant authors that ask for it several events per connection (a vohub extension; plain
    #: VTP authors always get Comet's one event, ack, close).
    author_pipelining: bool = True
    #: What an author hears for an exact repeat: Comet's nak "Previously seen by this broker",
    #: or an ack (idempotent publishing). Either way the packet is not relayed again.
    duplicate_reply: Literal["nak", "ack"] = "nak"
    #: When subscribers and --exec get a packet: once "accepted" (written, while its fsync
    #: runs; after the fsync while spool writes fail) or once "durable" (never a packet a
    #: crash could lose, at the cost of the fsync latency).
    relay: Literal["accepted", "durable"] = "accepted"
    dedup_expiry_days: float = checked(30.0, _positive)
    # --- subscribers
    iamalive_interval: float = checked(60.0, _heartbeat)
    #: Seconds a subscriber's oldest unacked event may wait for its ack (acks falling behind).
    ack_timeout: float = checked(60.0, _positive)
    #: Events a subscriber may leave unacked when it answers a later iamalive (acks skipped).
    max_missed_acks: int = checked(10, _positive)
    subscriber_queue_bytes: int = checked(16 << 20, _positive)
    #: Seconds one subscriber's XPath filters may take on one packet (each subscriber has its
    #: own budget); past it the filter worker is killed and that subscriber dropped.
    filter_timeout: float = checked(0.5, _positive)
    upstream_idle_timeout: float = checked(PEER_SILENCE_LIMIT, _positive)
    # --- local handlers
    exec: list[str] = checked([], _command, each=True)
    exec_concurrency: int = checked(4, _positive)
    exec_timeout: float = checked(30.0, _positive)
    exec_queue: int = checked(1_000, _positive)
    # --- archive hand-off
    archive: str = checked("", _address)
    #: Spool and dedup store; the same folder as under ``vohub up`` (``var/broker``).
    data_dir: Path = Path("var/broker")
    archive_batch: int = checked(200, _positive)
    archive_timeout: float = checked(10.0, _positive)
    archive_max_backoff: float = checked(30.0, _positive)
    spool_segment_bytes: int = checked(64 * 1024 * 1024, _positive)
    # --- logs
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["kv", "json"] = "kv"

    def address(self, name: str) -> Address | None:
        """The parsed address setting ``name``, or None when it is off.

        >>> BrokerConfig().address("receive")
        Address(host='127.0.0.1', port=8098)
        >>> BrokerConfig().address("archive") is None
        True
        """
        text = getattr(self, name)
        return parse_address(text) if text else None

    def remotes(self) -> list[Address]:
        """The upstream brokers (port 8099 when none is given)."""
        return [parse_address(r, default_port=8099) for r in self.remote]

    def networks(self, name: str) -> list[Network]:
        """The parsed CIDR list of ``author_whitelist`` or ``subscriber_whitelist``."""
        return [ipaddress.ip_network(c, strict=False) for c in getattr(self, name)]

    def commands(self) -> list[list[str]]:
        """The ``--exec`` handlers as argument vectors."""
        return [shlex.split(c) for c in self.exec]


def load(
    path: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> BrokerConfig:
    """Load and check the configuration; raises ConfigError naming the bad key.

    >>> load(env={}, overrides={"author_whitelist": ["127.0.0.1/32", "::1", "10.0.0.0/33"]})
    Traceback (most recent call last):
    ...
    vohub.common.errors.ConfigError: broker.author_whitelist[2]: not a CIDR network: '10.0.0.0/33'
    """
    return load_config(BrokerConfig, "broker", path=path, env=env, overrides=overrides)


def allowed(host: str, networks: list[Network]) -> bool:
    """Whether the peer address ``host`` lies in one of ``networks``.

    >>> allowed("127.0.0.1", [ipaddress.ip_network("127.0.0.0/8")])
    True
    >>> allowed("::ffff:10.1.2.3", [ipaddress.ip_network("10.0.0.0/8")])
    True
    >>> allowed("not-an-ip", [ipaddress.ip_network("0.0.0.0/0")])
    False
    """
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == net.version and ip in net for net in networks)


__all__ = ["COMET_FRAME_LIMIT", "BrokerConfig", "CommonError", "allowed", "load"]

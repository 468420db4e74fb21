"""``vohub up``: run the whole hub (archive, broker, gateway) as one supervised process tree.

Each service runs as its own ``vohub <service>`` child process, exactly as production runs
them; ``up`` only chooses the shared settings (data dir, ports), restarts a child that dies
(with backoff), and stops them all on Ctrl-C or SIGTERM. A child that exits with status 2
(its configuration or command line is wrong) is not restarted: running it again cannot help,
so ``up`` stops the others and exits with status 2 after the child's own message. Before any
child starts, ``up`` refuses (status 2) a setting of the file or the environment that it decides
itself from its flags (a listen address, say), and makes sure it can listen on every port (none
in use, none given twice): otherwise it names the port and exits with status 1. Once the
gateway and the broker both answer ``/healthz`` with 200 (the gateway only does when the
archive serves), ``up`` logs ``hub.ready`` with the addresses to use.
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from vohub.cli.argtypes import port_number
from vohub.common.addresses import Address
from vohub.common.config import check_env_name, env_keys, read_toml
from vohub.common.errors import BindError, ConfigError, FolderUnusable
from vohub.common.folders import make_folder
from vohub.common.logs import configure, get_logger

log = get_logger("vohub.up")

#: Restart back-off after a crash: first delay, growth factor and ceiling (seconds).
BACKOFF = (1.0, 2.0, 60.0)
#: A service's exit status when its configuration or command line is wrong.
MISCONFIGURED = 2
#: Seconds a readiness probe may take (the supervision loop waits for it).
PROBE_TIMEOUT = 0.5
#: The flag of each port ``up`` listens on.
PORT_FLAGS = ("receive_port", "broadcast_port", "broker_grpc_port", "broker_ops_port",
              "archive_grpc_port", "archive_ops_port", "http_port")  # fmt: skip
#: The settings ``up`` gives each service itself (section → key → the flags of ``up`` that
#: decide it): a value for one of them in the file or the environment would be overridden.
UP_SETTINGS = {
    "archive": {"grpc": "--archive-grpc-port (and --host)",
                "ops": "--archive-ops-port (and --host)", "data_dir": "--data-dir"},
    "broker": {"receive": "--receive-port (and --host)",
               "broadcast": "--broadcast-port (and --host)",
               "grpc": "--broker-grpc-port (and --host)",
               "metrics": "--broker-ops-port (and --host)",
               "archive": "--archive-grpc-port (and --host)", "data_dir": "--data-dir"},
    "gateway": {"bind": "--http-port (and --host)", "archive": "--archive-grpc-port (and --host)"},
}  # fmt: skip
#: Opens probe URLs directly, whatever proxy the environment names.
_probe_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


#: The port flags of ``vohub up``: flag, default and what listens there (on ``--host``).
PORTS = (
    ("--receive-port", 8098, "VTP author port"),
    ("--broadcast-port", 8099, "VTP subscriber port"),
    ("--broker-grpc-port", 50052, "broker gRPC port, for Publish and Subscribe"),
    ("--broker-ops-port", 9152, "broker /healthz and /metrics"),
    ("--archive-grpc-port", 50051, "archive gRPC port, for Ingest and Query"),
    ("--archive-ops-port", 9151, "archive /healthz and /metrics"),
    ("--http-port", 8080, "gateway HTTP port, the query API"),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``vohub up``."""
    parser.add_argument("--data-dir", type=Path, default=Path("var"), help="state (default ./var)")
    parser.add_argument("--config", type=Path, help="TOML configuration file for every service")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address every port binds to (default %(default)s)")  # fmt: skip
    parser.add_argument(
        "--local-ivo", help="broker IVOID (default: the config's, else ivo://vohub.local/broker)"
    )
    for flag, default, what in PORTS:
        parser.add_argument(flag, type=port_number, default=default,
                            help=f"{what} (default %(default)s)")  # fmt: skip
    parser.add_argument(
        "--db", help="archive database URL (default: the config's, else SQLite in the data dir)"
    )
    parser.add_argument(
        "--log-format", choices=["kv", "json"], help="log lines of up and every service"
    )


def connect_host(host: str) -> str:
    """The address a service uses to reach another one bound on ``host``.

    >>> connect_host("0.0.0.0"), connect_host("::"), connect_host("192.0.2.7")
    ('127.0.0.1', '::1', '192.0.2.7')
    """
    return {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)


def host_port(host: str, port: int) -> str:
    """``HOST:PORT`` as the services read it (IPv6 in brackets).

    >>> host_port("::", 8098), host_port("127.0.0.1", 8098)
    ('[::]:8098', '127.0.0.1:8098')
    """
    return str(Address(host, port))


def child_commands(args: argparse.Namespace) -> dict[str, list[str]]:
    """The ``vohub`` command line of each service, in start order.

    Ports and folders are ``up``'s; the rest comes from the configuration file, unless one
    of ``up``'s own flags (``--db``, ``--local-ivo``) sets it.
    """
    vohub = [sys.executable, "-m", "vohub.cli"]
    host = args.host.strip("[]")
    common = ["--config", str(args.config)] if args.config else []
    archive_addr = host_port(connect_host(host), args.archive_grpc_port)
    db = ["--db", args.db] if args.db else []
    local_ivo = ["--local-ivo", args.local_ivo] if args.local_ivo else []
    return {
        "archive": [
            *vohub,
            "archive",
            "serve",
            *common,
            "--grpc",
            host_port(host, args.archive_grpc_port),
            "--ops",
            host_port(host, args.archive_ops_port),
            "--data-dir",
            str(args.data_dir.resolve()),
            *db,
        ],
        "broker": [
            *vohub,
            "broker",
            *common,
            "--receive",
            host_port(host, args.receive_port),
            "--broadcast",
            host_port(host, args.broadcast_port),
            "--grpc",
            host_port(host, args.broker_grpc_port),
            "--metrics",
            host_port(host, args.broker_ops_port),
            *local_ivo,
            "--archive",
            archive_addr,
            "--data-dir",
            str(args.data_dir / "broker"),
        ],
        "gateway": [
            *vohub,
            "gateway",
            *common,
            "--bind",
            host_port(host, args.http_port),
            "--archive",
            archive_addr,
        ],
    }


def check_up_settings(tables: dict[str, Any], env: Mapping[str, str]) -> None:
    """Raise :class:`ConfigError` naming a setting of the file (``tables``) or of ``env`` that
    ``up`` decides itself (:data:`UP_SETTINGS`, listen addresses above all): it would be
    overridden without a word.

    >>> check_up_settings({"broker": {"local_ivo": "ivo://example.org/hub"}}, {})
    >>> check_up_settings({}, {"VOHUB_GATEWAY__BIND": "127.0.0.1:9580"})
    Traceback (most recent call last):
    ...
    vohub.common.errors.ConfigError: VOHUB_GATEWAY__BIND: vohub up sets this itself; use \
vohub up --http-port (and --host) instead
    """
    for section, keys in UP_SETTINGS.items():
        table = tables.get(section, {})
        variables = env_keys(section, env)
        for key, flags in keys.items():
            found = [f"{section}.{key}"] if isinstance(table, dict) and key in table else []
            found += [name for dotted, name in variables.items() if dotted.split(".")[0] == key]
            if found:
                raise ConfigError(
                    found[0], f"vohub up sets this itself; use vohub up {flags} instead"
                )


def check_ports(host: str, ports: dict[str, int]) -> None:
    """Raise :class:`BindError` naming the flag at fault if ``up`` could not listen on each of
    ``ports`` (flag → port) at ``host``: a port in use or given twice, or a bad ``--host``.

    >>> check_ports("127.0.0.1", {"--a-port": 0})
    >>> check_ports("127.0.0.1", {"--a-port": 8098, "--b-port": 8098})
    Traceback (most recent call last):
    ...
    vohub.common.errors.BindError: 127.0.0.1:8098: --b-port: the same port as --a-port
    """
    flags: dict[int, str] = {}
    for flag, port in ports.items():
        if port in flags:
            raise BindError(host_port(host, port), f"{flag}: the same port as {flags[port]}")
        flags[port] = flag
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host or None, 0, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except OSError as exc:
        raise BindError(host, f"--host: cannot resolve: {exc.strerror}") from None
    for flag, port in ports.items():
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the services do
            try:
                sock.bind((address[0], port, *address[2:]))
                sock.listen()
            except OSError as exc:
                at_fault = "--host" if exc.errno == errno.EADDRNOTAVAIL else flag
                raise BindError(host_port(host, port), f"{at_fault}: {exc.strerror}") from None


def healthy(url: str) -> bool:
    """Whether ``url`` answers 200 within :data:`PROBE_TIMEOUT` seconds.

    >>> healthy("http://127.0.0.1:9/healthz")
    False
    """
    try:
        with _probe_opener.open(url, timeout=PROBE_TIMEOUT) as reply:
            return bool(reply.status == 200)
    except OSError:  # refused, timed out, or an HTTP error status
        return False


def child_env(service: str, log_format: str | None) -> dict[str, str] | None:
    """The environment of a service's process: ours, plus ``--log-format`` if given.

    >>> child_env("broker", "json")["VOHUB_BROKER__LOG_FORMAT"]
    'json'
    >>> child_env("broker", None) is None
    True
    """
    if log_format is None:
        return None
    return {**os.environ, f"VOHUB_{service.upper()}__LOG_FORMAT": log_format}


@dataclass
class Child:
    """One supervised service process and its restart state."""

    name: str
    argv: list[str]
    env: dict[str, str] | None = None
    process: subprocess.Popen[bytes] | None = None
    delay: float = BACKOFF[0]
    restart_at: float = 0.0
    started_at: float = field(default=0.0)
    misconfigured: bool = False

    def start(self, now: float) -> None:
        """Launch the process (its output goes straight to ours)."""
        self.process = subprocess.Popen(self.argv, env=self.env)
        self.started_at = now
        log.info("child.started", child=self.name, pid=self.process.pid)

    def check(self, now: float) -> None:
        """Restart the process with back-off if it has exited."""
        if self.process is None:
            if now >= self.restart_at:
                self.start(now)
            return
        status = self.process.poll()
        if status is None:
            if now - self.started_at > 60:
                self.delay = BACKOFF[0]
            return
        self.process = None
        if status == MISCONFIGURED:
            log.error("child.misconfigured", child=self.name, status=status)
            self.misconfigured = True
            return
        log.error("child.exited", child=self.name, status=status, restart_in=self.delay)
        self.restart_at = now + self.delay
        self.delay = min(self.delay * BACKOFF[1], BACKOFF[2])

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, wait, then SIGKILL if it will not go; log its exit status.

        It may have gone already: a Ctrl-C or a service manager signals every process.
        """
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        log.info("child.stopped", child=self.name, status=self.process.returncode)


def run(args: argparse.Namespace) -> int:
    """Start every service, supervise them until a signal arrives, then stop them.

    Returns 0 after a signal, 1 when a port cannot be listened on, or 2 when a service's
    configuration (or the data folder) is wrong.
    """
    configure("up", fmt=args.log_format or "kv")
    try:
        tables = read_toml(args.config, os.environ)  # once, before any service reads it
        for name in os.environ:
            check_env_name(name)
        check_up_settings(tables, os.environ)
    except ConfigError as exc:
        print(f"vohub up: configuration error: {exc}", file=sys.stderr)
        return MISCONFIGURED
    try:
        make_folder(args.data_dir)
    except FolderUnusable as exc:
        print(f"vohub up: data folder {exc}", file=sys.stderr)
        return MISCONFIGURED
    host = args.host.strip("[]")
    try:
        check_ports(host, {f"--{x.replace('_', '-')}": getattr(args, x) for x in PORT_FLAGS})
    except BindError as exc:
        print(f"vohub up: {exc}", file=sys.stderr)
        return 1
    children = [
        Child(name, argv, child_env(name, args.log_format))
        for name, argv in child_commands(args).items()
    ]
    stopping = False

    def request_stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    http = host_port(host, args.http_port)
    log.info("hub.starting", data_dir=str(args.data_dir), http=http)
    probes = [
        f"http://{host_port(connect_host(host), port)}/healthz"
        for port in (args.http_port, args.broker_ops_port)
    ]
    ready = False
    while not stopping and not any(child.misconfigured for child in children):
        now = time.monotonic()
        for child in children:
            child.check(now)
        if not ready and all(map(healthy, probes)):
            ready = True
            log.info(
                "hub.ready",
                http=http,
                receive=host_port(host, args.receive_port),
                broadcast=host_port(host, args.broadcast_port),
            )
        time.sleep(0.2)
    for child in reversed(children):
        child.stop()
    return MISCONFIGURED if any(child.misconfigured for child in children) else 0

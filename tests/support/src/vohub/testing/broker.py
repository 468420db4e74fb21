"""Broker test support: a real ``vohub broker`` subprocess on free loopback ports.

:func:`start_broker` runs the service with every listener on a fresh port, a 1 s iamalive
interval and its own data directory, and waits until gRPC health says SERVING; the
``broker_factory`` fixture does the same and stops every broker after the test.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from vohub.testing.archive import serving
from vohub.testing.ports import LOOPBACK, free_port
from vohub.testing.process import SupervisedProcess


def with_ivorn(raw: bytes, ivorn: str) -> bytes:
    """``raw`` with its root ``ivorn`` attribute replaced (a real packet under a fresh IVORN).

    >>> with_ivorn(b'<v:VOEvent ivorn="ivo://a.b/c#1" role="test"/>', "ivo://x.y/z#2")
    b'<v:VOEvent ivorn="ivo://x.y/z#2" role="test"/>'
    """
    return re.sub(rb'ivorn="[^"]*"', f'ivorn="{ivorn}"'.encode(), raw, count=1)


def wait_until(condition: Callable[[], bool], deadline: float = 30.0, what: str = "it") -> None:
    """Poll ``condition`` until it holds; fail the test naming ``what`` after ``deadline`` s."""
    end = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > end:
            pytest.fail(f"{what} did not happen within {deadline:g} s", pytrace=False)
        time.sleep(0.05)


class BrokerServer:
    """A running ``vohub broker`` and its addresses (``(host, port)`` tuples)."""

    def __init__(self, process: SupervisedProcess, ports: dict[str, int], data_dir: Path) -> None:
        self.process = process
        self.ports = ports
        self.data_dir = data_dir
        self.receive = (LOOPBACK, ports["receive"])
        self.broadcast = (LOOPBACK, ports["broadcast"])
        self.grpc = f"{LOOPBACK}:{ports['grpc']}"

    def metrics(self) -> str:
        """The Prometheus text of ``/metrics``."""
        url = f"http://{LOOPBACK}:{self.ports['metrics']}/metrics"
        with urllib.request.urlopen(url, timeout=5) as reply:
            return str(reply.read().decode())

    def metric(self, name: str, **labels: str) -> float:
        """One sample of ``/metrics`` (0.0 when absent): ``metric("x_total", path="author")``.

        The label order must be the one the broker declares.
        """
        wanted = name + (
            "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else ""
        )
        for line in self.metrics().splitlines():
            key, _, value = line.rpartition(" ")
            if key == wanted:
                return float(value)
        return 0.0

    def log(self) -> str:
        """Everything the broker has logged so far."""
        return self.process.output()

    def kill(self) -> None:
        """SIGKILL the broker (a crash, for durability tests)."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process._process().wait()

    def stop(self) -> int:
        """SIGTERM, wait, return the exit status (ProcessDidNotStop if it had to be killed)."""
        return self.process.stop()


def broker_command(ports: dict[str, int], data_dir: Path, *extra: str) -> list[str]:
    """The argv of a broker with these ports and data directory.

    >>> broker_command({"receive": 1, "broadcast": 2, "grpc": 3, "metrics": 4}, Path("d"))[3:7]
    ['broker', '--receive', '127.0.0.1:1', '--broadcast']
    """
    return [
        sys.executable, "-m", "vohub.cli", "broker",
        "--receive", f"{LOOPBACK}:{ports['receive']}",
        "--broadcast", f"{LOOPBACK}:{ports['broadcast']}",
        "--grpc", f"{LOOPBACK}:{ports['grpc']}",
        "--metrics", f"{LOOPBACK}:{ports['metrics']}",
        "--data-dir", str(data_dir),
        *extra,
    ]  # fmt: skip


def start_broker(
    log_dir: Path,
    *,
    name: str = "broker",
    data_dir: Path | None = None,
    ports: dict[str, int] | None = None,
    local_ivo: str = "ivo://vohub.test/broker",
    iamalive: float = 1.0,
    extra: Sequence[str] = (),
    deadline: float = 30.0,
) -> BrokerServer:
    """Start ``vohub broker`` on free ports (or ``ports``) and wait until it is SERVING.

    ``extra`` adds flags (``--archive``, ``--remote``, ``--exec`` ...). Reusing ``data_dir``
    and ``ports`` restarts a broker where a killed one left off.
    """
    ports = ports or {k: free_port() for k in ("receive", "broadcast", "grpc", "metrics")}
    data_dir = data_dir or log_dir / f"{name}-data"
    argv = broker_command(ports, data_dir, "--local-ivo", local_ivo)
    argv += ["--iamalive-interval", str(iamalive), *extra]
    process = SupervisedProcess(name, argv, log_dir=log_dir).start()
    server = BrokerServer(process, ports, data_dir)
    process.wait_ready(lambda: serving(server.grpc), deadline=deadline)
    return server


BrokerFactory = Callable[..., BrokerServer]


@pytest.fixture
def broker_factory(tmp_path: Path) -> Iterator[BrokerFactory]:
    """``start(**options) -> BrokerServer`` (see :func:`start_broker`); all stop at teardown."""
    started: list[BrokerServer] = []

    def start(**options: object) -> BrokerServer:
        options.setdefault("name", f"broker{len(started)}")
        server = start_broker(tmp_path, **options)  # type: ignore[arg-type]
        started.append(server)
        return server

    yield start
    for server in reversed(started):
        if server.process.returncode is None:
            server.stop()

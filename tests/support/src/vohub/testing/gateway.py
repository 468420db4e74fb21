"""Gateway test support: a real ``vohub gateway`` (gunicorn) subprocess on a free port.

:func:`start_gateway` runs the service in front of a given archive address and waits until
its real ``/healthz`` answers 200 (the archive is reachable through it), failing with the
captured output if it does not in time. The ``gateway_factory`` fixture stops every gateway
it started (SIGTERM, then kill) at teardown.
"""

from __future__ import annotations

import sys
import tarfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import grpc
import pytest

from vohub.testing.archive import ArchiveServer, start_archive
from vohub.testing.ports import LOOPBACK, free_port
from vohub.testing.process import SupervisedProcess
from vohub.v1 import archive_pb2, archive_pb2_grpc


def healthy(url: str, timeout: float = 1.0) -> bool:
    """Whether ``GET url/healthz`` answers 200 right now.

    Examples
    --------
    >>> healthy(f"http://127.0.0.1:{free_port()}", timeout=0.2)
    False
    """
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=timeout) as reply:
            return bool(reply.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def gateway_command(bind: str, archive: str, *extra: str) -> list[str]:
    """The argv running the gateway on ``bind`` in front of the archive at ``archive``.

    Examples
    --------
    >>> gateway_command("127.0.0.1:1", "127.0.0.1:2")[3:]
    ['gateway', '--bind', '127.0.0.1:1', '--archive', '127.0.0.1:2']
    """
    return [sys.executable, "-m", "vohub.cli", "gateway", "--bind", bind, "--archive", archive,
            *extra]  # fmt: skip


class GatewayServer:
    """A running ``vohub gateway`` subprocess and its base URL (``http://127.0.0.1:PORT``)."""

    def __init__(self, process: SupervisedProcess, url: str) -> None:
        self.process = process
        self.url = url

    def stop(self) -> int:
        """SIGTERM, wait, and return the exit status (ProcessDidNotStop if it had to be killed)."""
        return self.process.stop(timeout=15.0)


def start_gateway(
    archive: str,
    log_dir: Path,
    *,
    name: str = "gateway",
    workers: int = 2,
    extra: Sequence[str] = (),
    deadline: float = 30.0,
) -> GatewayServer:
    """Start ``vohub gateway`` on a free port in front of ``archive`` and wait for /healthz 200."""
    port = free_port()
    url = f"http://{LOOPBACK}:{port}"
    argv = gateway_command(f"{LOOPBACK}:{port}", archive, "--workers", str(workers), *extra)
    process = SupervisedProcess(name, argv, log_dir=log_dir).start()
    try:
        process.wait_ready(lambda: healthy(url), deadline=deadline)
    except BaseException:
        process.stop()
        raise
    return GatewayServer(process, url)


GatewayFactory = Callable[..., GatewayServer]


@pytest.fixture
def gateway_factory(tmp_path: Path) -> Iterator[GatewayFactory]:
    """``start(archive_address, **options) -> GatewayServer``; all are stopped at teardown."""
    started: list[GatewayServer] = []

    def start(archive: str, **options: object) -> GatewayServer:
        name = f"gateway{len(started)}"
        server = start_gateway(archive, tmp_path, name=name, **options)  # type: ignore[arg-type]
        started.append(server)
        return server

    yield start
    for server in reversed(started):
        server.stop()


def real_packets(data_dir: Path, tarball: str = "2020-06.002.tar.bz2") -> list[bytes]:
    """Every packet file under ``data_dir/voevents`` plus the members of one dump tarball.

    Examples
    --------
    >>> root = Path(__file__).resolve().parents[5] / "data"
    >>> len(real_packets(root)) > 300
    True
    """
    blobs = [p.read_bytes() for p in sorted((data_dir / "voevents").rglob("*.xml"))
             if b"ivorn=" in p.read_bytes()]  # fmt: skip
    with tarfile.open(data_dir / "tarballs" / tarball) as archive:
        for member in archive.getmembers():
            handle = archive.extractfile(member) if member.name.endswith(".xml") else None
            if handle is not None:
                blobs.append(handle.read())
    return blobs


def ingest(address: str, blobs: Sequence[bytes], batch: int = 100) -> list[str]:
    """Store ``blobs`` through the archive's gRPC Ingest; returns each result's outcome name."""
    outcomes: list[str] = []
    with grpc.insecure_channel(address) as channel:
        stub = archive_pb2_grpc.ArchiveStub(channel)
        for start in range(0, len(blobs), batch):
            packets = [archive_pb2.IngestPacket(xml=b) for b in blobs[start : start + batch]]
            reply = stub.Ingest(archive_pb2.IngestRequest(packets=packets), timeout=60)
            names = archive_pb2.IngestResult.Outcome.Name
            outcomes += [names(r.outcome) for r in reply.results]
    return outcomes


class Stack:
    """A real archive loaded with packets, and a real gateway in front of it."""

    def __init__(self, archive: ArchiveServer, gateway: GatewayServer, outcomes: list[str]) -> None:
        self.archive = archive
        self.gateway = gateway
        self.outcomes = outcomes
        self.url = gateway.url

    def stop(self) -> None:
        """Stop the gateway, then the archive."""
        try:
            self.gateway.stop()
        finally:
            self.archive.stop()


def start_stack(db_url: str, log_dir: Path, blobs: Sequence[bytes], workers: int = 2) -> Stack:
    """Start ``vohub archive serve`` on ``db_url``, ingest ``blobs``, start ``vohub gateway``."""
    archive = start_archive(db_url, log_dir)
    try:
        outcomes = ingest(archive.address, blobs)
        gateway = start_gateway(archive.address, log_dir, workers=workers)
    except BaseException:
        archive.stop()
        raise
    return Stack(archive, gateway, outcomes)

"""Archive test support: packet factories and a real ``vohub archive serve`` subprocess.

:func:`make_packet` builds :class:`vohub.voevent.model.Packet` values with just the fields the
archive stores, and distinct bytes per IVORN (or the bytes you give). :func:`start_archive`
runs the service on a free port against a given database and waits until gRPC health says
SERVING; the ``archive_server`` fixture does the same and stops it after the test.
:func:`as_voeventdb_dumps` re-serialises a packet as voeventdb stores (and dumps) it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from lxml import etree, objectify

from vohub.testing.ports import LOOPBACK, free_port
from vohub.testing.process import SupervisedProcess
from vohub.voevent.model import Citation, Packet, Param, Position

#: (ra, dec, error) or (ra, dec, error, time); degrees and UTC.
PositionSpec = tuple[float, float, float] | tuple[float, float, float, datetime | None]
#: (cited IVORN, cite type) or (cited IVORN, cite type, description).
CitationSpec = tuple[str, str] | tuple[str, str, str | None]


def make_packet(
    ivorn: str,
    *,
    role: str = "observation",
    author_datetime: datetime | None = None,
    positions: Sequence[PositionSpec] = (),
    citations: Sequence[CitationSpec] = (),
    raw: bytes | None = None,
    coord_system: str = "UTC-ICRS-TOPO",
    params: Sequence[tuple[str, str]] = (),
    version: str = "2.0",
    author_ivorn: str | None = "ivo://vohub.test/author",
) -> Packet:
    """A packet as the parser would return it, for archive tests.

    Examples
    --------
    >>> p = make_packet("ivo://vohub.test/a#1", positions=[(10.0, 20.0, 0.1)])
    >>> p.stream, p.positions[0].dec, p.raw[:25]
    ('vohub.test/a', 20.0, b'<VOEvent ivorn="ivo://voh')
    """
    spots = tuple(_position(spec, coord_system) for spec in positions)
    cites = tuple(Citation(c[0], c[1], c[2] if len(c) > 2 else None) for c in citations)
    body = raw if raw is not None else f'<VOEvent ivorn="{ivorn}" role="{role}"/>'.encode()
    return Packet(
        ivorn=ivorn,
        role=role,
        version=version,
        raw=body,
        author_ivorn=author_ivorn,
        author_datetime=author_datetime,
        positions=spots,
        citations=cites,
        params=tuple(Param(name, value) for name, value in params),
    )


def as_voeventdb_dumps(raw: bytes) -> bytes:
    """``raw`` as voeventdb stores it, and so as its dump tarballs hold it: voevent-parse's
    ``loads`` then ``dumps`` (objectify drops the layout, lxml rewrites the declaration)."""
    tree = objectify.fromstring(raw)
    objectify.deannotate(tree, cleanup_namespaces=True)
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8")


def _position(spec: PositionSpec, coord_system: str) -> Position:
    ra, dec, error = spec[0], spec[1], spec[2]
    time = spec[3] if len(spec) > 3 else None
    return Position(ra=ra, dec=dec, error=error, unit="deg", coord_system=coord_system, time=time)


def serving(address: str, timeout: float = 1.0) -> bool:
    """Whether the gRPC server at ``address`` reports SERVING right now.

    >>> serving(f"127.0.0.1:{free_port()}", timeout=0.2)
    False
    """
    try:
        with grpc.insecure_channel(address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout)
    except grpc.RpcError:
        return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


class ArchiveServer:
    """A running ``vohub archive serve`` subprocess and its gRPC address."""

    def __init__(self, process: SupervisedProcess, address: str) -> None:
        self.process = process
        self.address = address

    def stop(self) -> int:
        """SIGTERM, wait, and return the exit status (ProcessDidNotStop if it had to be killed)."""
        return self.process.stop()


def archive_cli(
    *args: str, stdin: bytes = b"", env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``vohub archive ARGS`` as a user would, capturing its output as text."""
    return subprocess.run(
        [sys.executable, "-m", "vohub.cli", "archive", *args],
        input=stdin.decode(),
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )


def archive_command(db_url: str, address: str, *extra: str) -> list[str]:
    """The argv running the archive service on ``address`` with database ``db_url``.

    >>> archive_command("sqlite:///x.db", "127.0.0.1:1")[-4:]
    ['--grpc', '127.0.0.1:1', '--db', 'sqlite:///x.db']
    """
    return [
        sys.executable,
        "-m",
        "vohub.cli",
        "archive",
        "serve",
        "--grpc",
        address,
        "--db",
        db_url,
        *extra,
    ]


def start_archive(
    db_url: str,
    log_dir: Path,
    *,
    name: str = "archive",
    extra: Sequence[str] = (),
    deadline: float = 30.0,
) -> ArchiveServer:
    """Start the service (which migrates ``db_url``) on a free port and wait for SERVING."""
    address = f"{LOOPBACK}:{free_port()}"
    env = {**os.environ, "VOHUB_ARCHIVE__OPS": ""}
    argv = archive_command(db_url, address, *extra)
    process = SupervisedProcess(name, argv, log_dir=log_dir, env=env).start()
    process.wait_ready(lambda: serving(address), deadline=deadline)
    return ArchiveServer(process, address)


ArchiveFactory = Callable[..., ArchiveServer]


@pytest.fixture
def archive_server_factory(tmp_path: Path) -> Iterator[ArchiveFactory]:
    """``start(db_url, **options) -> ArchiveServer``; every server is stopped at teardown."""
    started: list[ArchiveServer] = []

    def start(db_url: str, **options: object) -> ArchiveServer:
        server = start_archive(db_url, tmp_path, name=f"archive{len(started)}", **options)  # type: ignore[arg-type]
        started.append(server)
        return server

    yield start
    for server in reversed(started):
        server.stop()

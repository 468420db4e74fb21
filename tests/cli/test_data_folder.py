"""A data folder that cannot be created (or is another broker's, or holds a file the broker
cannot read) stops each command with a message naming it.

Retrying cannot help, so the services exit with status 2, which ``vohub up`` takes as "do not
restart"; ``up`` itself exits 2 before starting anything.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from vohub.testing.ports import free_port
from vohub.testing.process import SupervisedProcess


def vohub(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vohub.cli", *args],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


@pytest.fixture(params=["itself", "parent"])
def in_the_way(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, str]:
    """A data folder with a plain file in its place, or in its parent's; and the message.

    The system said "File exists" for the first and "Not a directory" for the second, and the
    three commands worded it three ways."""
    path = tmp_path / "var"
    path.write_text("not a folder")
    if request.param == "itself":
        return path, f"{path}: not a folder: a file is in the way"
    return path / "hub", f"{path / 'hub'}: not a folder: {path} is a file"


def test_up(in_the_way: tuple[Path, str]) -> None:
    folder, message = in_the_way
    done = vohub("up", "--data-dir", str(folder))
    assert done.returncode == 2
    assert done.stderr == f"vohub up: data folder {message}\n"


def test_archive_serve_and_import(in_the_way: tuple[Path, str]) -> None:
    folder, message = in_the_way
    grpc = f"127.0.0.1:{free_port()}"
    served = vohub("archive", "--data-dir", str(folder), "serve", "--grpc", grpc, "--ops", "")
    assert served.returncode == 2
    assert f'error="{message}"' in served.stderr
    imported = vohub("archive", "--data-dir", str(folder), "import", __file__)
    assert imported.returncode == 2  # as serve: a configuration error
    assert imported.stderr == f"vohub archive import: {message}\n"


def test_broker(in_the_way: tuple[Path, str]) -> None:
    folder, message = in_the_way
    ports = [f"127.0.0.1:{free_port()}" for _ in range(3)]
    done = vohub("broker", "--data-dir", str(folder), "--receive", ports[0],
                 "--broadcast", ports[1], "--grpc", ports[2])  # fmt: skip
    assert done.returncode == 2
    assert f'event=broker.start_failed error="{message}"' in done.stderr
    assert "Traceback" not in done.stderr


def test_a_second_broker_on_the_same_folder(tmp_path: Path) -> None:
    """Two brokers appending to one spool would corrupt it: the second one is refused."""

    def broker_argv() -> list[str]:
        ports = [f"127.0.0.1:{free_port()}" for _ in range(3)]
        return ["broker", "--data-dir", str(tmp_path / "broker"), "--receive", ports[0],
                "--broadcast", ports[1], "--grpc", ports[2]]  # fmt: skip

    first = SupervisedProcess(
        "broker", [sys.executable, "-m", "vohub.cli", *broker_argv()], log_dir=tmp_path
    )
    with first.start():
        first.wait_output("event=broker.started", deadline=30)
        second = vohub(*broker_argv())
    assert second.returncode == 2
    assert f"in use by another broker (pid {first.pid})" in second.stderr


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("spool/checkpoint", "checkpoint is not a sequence number: 'abc'"),
        ("seen.sqlite3", "cannot use the dedup database: file is not a database"),
    ],
    ids=["checkpoint", "dedup-database"],
)
def test_a_broker_file_that_cannot_be_read(tmp_path: Path, name: str, message: str) -> None:
    """A checkpoint or dedup database holding something else ended the broker with a
    traceback and status 1, which ``vohub up`` takes as "restart it" (again and again)."""
    path = tmp_path / "broker" / name
    path.parent.mkdir(parents=True)
    path.write_text("abc\n" if name.endswith("checkpoint") else "not sqlite\n")
    before = path.read_bytes()
    ports = [f"127.0.0.1:{free_port()}" for _ in range(3)]
    done = vohub("broker", "--data-dir", str(tmp_path / "broker"), "--receive", ports[0],
                 "--broadcast", ports[1], "--grpc", ports[2])  # fmt: skip
    assert done.returncode == 2
    [line] = [line for line in done.stderr.splitlines() if "level=error" in line]
    assert line.endswith(f'event=broker.start_failed error="{path}: {message}"')
    assert "Traceback" not in done.stderr
    assert path.read_bytes() == before  # left for whoever looks into it

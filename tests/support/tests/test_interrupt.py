"""A SIGTERM'd pytest run still stops the servers its fixtures started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

INNER = """
import sys
from pathlib import Path

import pytest

from vohub.testing.process import SupervisedProcess


@pytest.fixture
def server(tmp_path):
    code = "import time; print('up', flush=True); time.sleep(600)"
    process = SupervisedProcess("server", [sys.executable, "-c", code], log_dir=tmp_path)
    with process.start():
        process.wait_ready(lambda: "up" in process.output(), deadline=30)
        Path({pid_file!r}).write_text(str(process.pid))
        yield process


def test_waits(server):
    import time
    time.sleep(600)
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_sigterm_tears_the_fixtures_down(tmp_path: Path) -> None:
    """The server outlived the killed run (and held its port and CPU) before."""
    pid_file = tmp_path / "server.pid"
    (tmp_path / "test_inner.py").write_text(INNER.format(pid_file=str(pid_file)))
    run = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "vohub.testing.interrupt",
         "-p", "no:cacheprovider", "--rootdir", str(tmp_path), str(tmp_path / "test_inner.py")],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not pid_file.exists():
        assert run.poll() is None, run.communicate()[0].decode()
        assert time.monotonic() < deadline, "the inner test never started its server"
        time.sleep(0.05)
    server = int(pid_file.read_text())
    run.send_signal(signal.SIGTERM)
    output = run.communicate(timeout=60)[0].decode()
    assert "KeyboardInterrupt" in output
    assert not alive(server), output

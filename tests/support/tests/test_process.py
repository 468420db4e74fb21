"""Supervised processes: readiness with a deadline, loud failures with output, sure teardown."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from vohub.testing.errors import ProcessDidNotStop, ProcessFailed, ProcessNotStarted
from vohub.testing.ports import free_port, port_open
from vohub.testing.process import SupervisedProcess

PY = sys.executable


def test_ready_on_a_real_port_then_sigterm(tmp_path: Path) -> None:
    port = free_port()
    server = (
        "import socket, time\n"
        f"s = socket.create_server(('127.0.0.1', {port}))\n"
        "print('listening', flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = SupervisedProcess("server", [PY, "-c", server], log_dir=tmp_path).start()
    proc.wait_ready(lambda: port_open(port), deadline=10)
    assert "listening" in proc.output()
    assert proc.stop() == -15
    assert not port_open(port)


def test_exit_before_ready_fails_loudly_with_captured_stderr(tmp_path: Path) -> None:
    crash = "import sys; sys.stderr.write('config key broker.port: not a number\\n'); sys.exit(3)"
    proc = SupervisedProcess("crasher", [PY, "-c", crash], log_dir=tmp_path).start()
    with pytest.raises(ProcessFailed) as caught:
        proc.wait_ready(lambda: False, deadline=10)
    message = str(caught.value)
    assert "crasher: exited with status 3 before it was ready" in message
    assert "config key broker.port: not a number" in message


def test_deadline_fails_and_stops_the_process(tmp_path: Path) -> None:
    proc = SupervisedProcess("slow", [PY, "-c", "import time; time.sleep(60)"], log_dir=tmp_path)
    proc.start()
    with pytest.raises(ProcessFailed, match=r"slow: not ready after 0\.3 s"):
        proc.wait_ready(lambda: False, deadline=0.3)
    assert proc.returncode is not None


def test_ignoring_sigterm_gets_killed_and_reported(tmp_path: Path) -> None:
    stubborn = (
        "import signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('up', flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = SupervisedProcess("stubborn", [PY, "-c", stubborn], log_dir=tmp_path).start()
    proc.wait_output("up", deadline=10)
    with pytest.raises(ProcessDidNotStop, match=r"stubborn: still running 0\.5 s after SIGTERM"):
        proc.stop(timeout=0.5)
    assert proc.returncode == -9


def test_children_are_stopped_with_the_process(tmp_path: Path) -> None:
    port = free_port()
    child = f"import socket, time; s = socket.create_server(('127.0.0.1', {port})); time.sleep(60)"
    parent = (
        "import subprocess, sys, time\n"
        f"subprocess.Popen([sys.executable, '-c', {child!r}])\n"
        "time.sleep(60)\n"
    )
    proc = SupervisedProcess("parent", [PY, "-c", parent], log_dir=tmp_path).start()
    proc.wait_ready(lambda: port_open(port), deadline=10)
    proc.stop()
    for _ in range(100):
        if not port_open(port):
            break
        time.sleep(0.05)
    assert not port_open(port)


def test_use_before_start_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ProcessNotStarted, match="idle: not started"):
        SupervisedProcess("idle", [PY], log_dir=tmp_path).stop()

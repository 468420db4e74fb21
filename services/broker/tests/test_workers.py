"""The judge and filter worker processes as the broker runs them: signals, end of input."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from vohub.broker.filter_worker import PROGRESS, frame, read_message


def ask(proc: subprocess.Popen[bytes], *requests: Any) -> Any:
    """Send ``requests``; the answer to the last."""
    assert proc.stdin is not None
    assert proc.stdout is not None
    proc.stdin.write(b"".join(map(frame, requests)))
    proc.stdin.flush()
    return read_message(proc.stdout)


@pytest.mark.parametrize("worker", ["judge", "filter"])
def test_a_worker_outlives_ctrl_c_and_sigterm_and_ends_when_its_input_closes(
    worker: str, tmp_path: Path
) -> None:
    progress = tmp_path / "progress"
    progress.write_bytes(bytes(PROGRESS.size))
    argv, setup, request = {
        "judge": (["vohub.broker.judge_worker", "strict"], [], (7, [b"<VOEvent"])),
        "filter": (["vohub.broker.filter_worker", str(progress)], [("set", 1, ["//x"], 0)],
                   ("eval", 0, [b"<x/>"])),
    }[worker]  # fmt: skip
    with subprocess.Popen([sys.executable, "-m", *argv], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:  # fmt: skip
        first = ask(proc, *setup, request)  # up and running, signal handling in place
        proc.send_signal(signal.SIGINT)  # as a Ctrl-C to the terminal's process group
        proc.send_signal(signal.SIGTERM)  # as a service manager stopping every process
        assert ask(proc, request) == first
        _, errors = proc.communicate(timeout=30)  # closes its input
    assert proc.returncode == 0
    assert errors == b""  # no KeyboardInterrupt traceback

"""Supervised subprocesses for tests: start, wait until really ready, fail loudly, stop for sure."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from vohub.testing.errors import ProcessDidNotStop, ProcessFailed, ProcessNotStarted

#: How much captured output an error message quotes.
TAIL_CHARS = 4000


class SupervisedProcess:
    """A child process whose stdout and stderr go to files, with a readiness deadline.

    Parameters
    ----------
    name
        Named in every error.
    argv
        Program and arguments (no shell).
    log_dir
        Where ``<name>.out`` (stdout and stderr, interleaved) is written.
    env
        Full environment for the child (default: ours).
    cwd
        Working directory.

    Examples
    --------
    >>> import sys, tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     proc = SupervisedProcess("sleeper", [sys.executable, "-c", "import time; "
    ...                              "print('up', flush=True); time.sleep(60)"], log_dir=tmp)
    ...     with proc.start():
    ...         proc.wait_ready(lambda: "up" in proc.output(), deadline=10)
    ...     proc.returncode == -15
    True
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_dir: str | os.PathLike[str],
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = Path(log_dir) / f"{name}.out"
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self._popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Self:
        """Start the process in its own session, so stopping it also stops its children."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self._popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int:
        """Process id (the process must have been started)."""
        return self._process().pid

    @property
    def returncode(self) -> int | None:
        """Exit status, or ``None`` while running (negative: killed by that signal)."""
        return self._process().poll()

    def output(self) -> str:
        """Everything the process has written so far (stdout and stderr)."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_ready(self, probe: Callable[[], bool], deadline: float) -> None:
        """Poll ``probe`` until it returns true, at most ``deadline`` seconds.

        Raises
        ------
        ProcessFailed
            If the process exits first or the deadline passes; quotes its output.
        """
        end = time.monotonic() + deadline
        while not probe():
            if self.returncode is not None:
                self._fail(f"exited with status {self.returncode} before it was ready")
            if time.monotonic() > end:
                self._fail(f"not ready after {deadline:g} s")
            time.sleep(0.05)

    def wait_output(self, text: str, deadline: float) -> None:
        """Wait until ``text`` appears in the captured output.

        Raises
        ------
        ProcessFailed
            If the process exits first or the deadline passes.
        """
        self.wait_ready(lambda: text in self.output(), deadline)

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM the process group, wait up to ``timeout`` s, then SIGKILL.

        Returns
        -------
        int
            The exit status.

        Raises
        ------
        ProcessDidNotStop
            If SIGKILL was needed (after killing it).
        """
        popen = self._process()
        if popen.poll() is not None:
            return popen.returncode
        self._signal(signal.SIGTERM)
        try:
            return popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            popen.wait()
            raise ProcessDidNotStop(self.name, timeout) from None

    def __enter__(self) -> Self:
        if self._popen is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _process(self) -> subprocess.Popen[bytes]:
        if self._popen is None:
            raise ProcessNotStarted(f"{self.name}: not started")
        return self._popen

    def _signal(self, signum: signal.Signals) -> None:
        try:
            os.killpg(self.pid, signum)
        except ProcessLookupError:
            return

    def _fail(self, detail: str) -> None:
        self.stop()
        raise ProcessFailed(self.name, detail, self.output()[-TAIL_CHARS:])

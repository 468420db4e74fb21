"""Pytest plugin: a SIGTERM stops the run as Ctrl-C does, so fixtures still tear down.

By default SIGTERM (``kill``, a cancelled CI job, a timeout wrapper) ends pytest at once, and
every server a fixture had started (archive, gateway, broker, Comet) outlived the run, holding
its port and CPU. Raised as KeyboardInterrupt, it unwinds through the fixtures' teardowns, which
stop them. The handler is set again before each test: a test that runs an asyncio loop with
signal handlers puts SIGTERM back to the default when it removes them.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

import pytest


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


def pytest_configure(config: pytest.Config) -> None:
    """Take SIGTERM as an interrupt from the start of the session."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Take it again before each test (see the module docstring)."""
    pytest_configure(item.config)

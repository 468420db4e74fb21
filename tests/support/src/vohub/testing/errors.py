"""Exception types of vohub.testing: a supervised process or peer that could not start or stop."""

from __future__ import annotations


class SupportError(Exception):
    """Base of every error raised by :mod:`vohub.testing`."""


class PeerMissing(SupportError):
    """A third-party peer the tests need (e.g. Comet's virtual environment) is not installed."""


class ProcessFailed(SupportError):
    """A supervised process exited, or never became ready, before its deadline.

    The message names the process and ends with the tail of its captured output.
    """

    def __init__(self, name: str, detail: str, output: str) -> None:
        self.name = name
        self.detail = detail
        self.output = output
        super().__init__(f"{name}: {detail}\n--- captured output (tail) ---\n{output}")


class ProcessDidNotStop(SupportError):
    """A supervised process ignored SIGTERM until its timeout and had to be killed."""

    def __init__(self, name: str, timeout: float) -> None:
        self.name = name
        self.timeout = timeout
        super().__init__(f"{name}: still running {timeout:g} s after SIGTERM; killed")


class ProcessNotStarted(SupportError):
    """A supervised process was queried or stopped before :meth:`start`."""


class PortNotServed(SupportError):
    """A port was asked of a peer started without the option that serves it."""

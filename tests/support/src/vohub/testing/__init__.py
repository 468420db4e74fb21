"""Test support for vohub: free ports, supervised subprocesses, real third-party peers (Comet)."""

from vohub.testing.comet_broker import CometBroker, CometOptions, find_comet_venv, start_comet
from vohub.testing.errors import (
    PeerMissing,
    PortNotServed,
    ProcessDidNotStop,
    ProcessFailed,
    ProcessNotStarted,
    SupportError,
)
from vohub.testing.ports import LOOPBACK, free_port, port_open
from vohub.testing.process import SupervisedProcess

__all__ = [
    "LOOPBACK",
    "CometBroker",
    "CometOptions",
    "PeerMissing",
    "PortNotServed",
    "ProcessDidNotStop",
    "ProcessFailed",
    "ProcessNotStarted",
    "SupervisedProcess",
    "SupportError",
    "find_comet_venv",
    "free_port",
    "port_open",
    "start_comet",
]

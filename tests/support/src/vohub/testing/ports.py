"""Loopback ports for tests: pick a free one, and probe whether something listens on one."""

from __future__ import annotations

import socket

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """Return a TCP port that was free on ``host`` a moment ago.

    Another process may take it before you bind it; use it for peers (like Comet) that cannot
    bind port 0 themselves.

    Examples
    --------
    >>> 1024 <= free_port() <= 65535
    True
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_open(port: int, host: str = LOOPBACK, timeout: float = 0.5) -> bool:
    """Whether a TCP connection to ``host:port`` succeeds right now (it is closed at once).

    Examples
    --------
    >>> port_open(free_port())
    False
    """
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False

"""Run ``twistd`` with every TCP listener bound to loopback, because Comet 3.1.0 has no bind option.

This file runs under *Comet's* Python (``.peers/comet/bin/python comet_launcher.py <twistd args>``),
not ours: importing it here does nothing. Comet's ``TCPServer(port, factory)`` listens on every
interface; before twistd starts we wrap Twisted's TCP ``Port`` so that an empty or wildcard
interface becomes ``$VOHUB_LISTEN_INTERFACE`` (default 127.0.0.1). Outgoing connections
(``--remote``) are untouched.
"""

from __future__ import annotations

import os
import sys
from typing import Any

WILDCARDS = frozenset({"", "0.0.0.0", "::"})


def main() -> None:
    """Patch Twisted's TCP listener, then hand the command line to twistd."""
    here = os.path.dirname(os.path.abspath(__file__))
    # Run as a script, our folder heads sys.path: drop it so nothing here shadows a module.
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    interface = os.environ.get("VOHUB_LISTEN_INTERFACE", "127.0.0.1")

    from twisted.internet import tcp  # type: ignore[import-not-found]
    from twisted.scripts.twistd import run  # type: ignore[import-not-found]

    original = tcp.Port.__init__

    def loopback_port(
        self: Any, port: int, factory: Any, backlog: int = 50, iface: str = "", reactor: Any = None
    ) -> None:
        original(self, port, factory, backlog, interface if iface in WILDCARDS else iface, reactor)

    tcp.Port.__init__ = loopback_port
    sys.argv = ["twistd", *sys.argv[1:]]
    run()


if __name__ == "__main__":
    main()

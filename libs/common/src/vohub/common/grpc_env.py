"""Settings of gRPC's C core for vohub's services, made before grpcio is first imported.

The C core writes its own log straight to stderr, in a plain-text format of its own (``E1207
05:35:00.405922 28628 add_port.cc:83] Failed to add port to server: ...``), which breaks a
service's one-line-per-event structured log. Every failure it reports there also reaches the
service as an exception, which the service logs itself in its own format, so the C core's log
is off unless the environment sets ``GRPC_VERBOSITY`` (``debug`` to diagnose gRPC itself).
grpcio reads the setting when it is first imported: each service package calls
:func:`quiet_core_log` from its ``__init__``.
"""

from __future__ import annotations

import os


def quiet_core_log() -> None:
    """Turn the C core's own log off, unless ``GRPC_VERBOSITY`` is already set.

    >>> quiet_core_log()
    >>> "GRPC_VERBOSITY" in os.environ
    True
    """
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")

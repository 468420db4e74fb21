"""vohub broker: a Comet-compatible VTP broker with filters, dedup and archive hand-off."""

import os

from vohub.common.grpc_env import quiet_core_log

quiet_core_log()

# The broker forks only to exec (the judge worker, filter and --exec handler processes), so it
# needs none of gRPC's fork support. With it on, gRPC's fork hook writes an unstructured line to
# the log for each packet a handler gets whenever another thread is inside gRPC. grpcio reads
# the setting when it is first imported, which is after this package's import.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

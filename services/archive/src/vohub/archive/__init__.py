"""vohub archive: the VOEvent store (SQLite or PostgreSQL+q3c) and its gRPC Ingest/Query API."""

from vohub.common.grpc_env import quiet_core_log

quiet_core_log()

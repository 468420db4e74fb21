"""vohub gateway: the public HTTP query API (voeventdb apiv1-compatible, apiv2, OpenAPI)."""

from vohub.common.grpc_env import quiet_core_log

quiet_core_log()

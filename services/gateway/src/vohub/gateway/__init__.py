"""vohub gateway: the public HTTP query API (voeventdb apiv1-compatible, apiv2, OpenAPI)."""

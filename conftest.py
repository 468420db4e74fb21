"""Root pytest configuration: shared fixtures come from plugins in tests/support (vohub.testing)."""

pytest_plugins = [
    "vohub.testing.fixtures",
    "vohub.testing.postgres",
    "vohub.testing.archive",
    "vohub.testing.gateway",
    "vohub.testing.broker",
    "vohub.testing.loops",
    "vohub.testing.interrupt",
]

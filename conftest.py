"""Root pytest configuration: shared fixtures come from plugins in libs/testing."""

pytest_plugins = [
    "vohub.testing.fixtures",
    "vohub.testing.postgres",
    "vohub.testing.archive",
    "vohub.testing.gateway",
    "vohub.testing.broker",
]

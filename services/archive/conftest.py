"""pytest collection rules for the archive member."""

# Alembic's env.py runs migrations when imported; only Alembic may load it.
collect_ignore_glob = ["src/vohub/archive/migrations/env.py"]

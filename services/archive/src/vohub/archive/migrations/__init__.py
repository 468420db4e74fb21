"""Alembic migrations of the archive schema: the only way the schema is created or changed."""

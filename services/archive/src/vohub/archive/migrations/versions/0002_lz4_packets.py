"""Compress stored packets with lz4 on PostgreSQL (pglz made ingest CPU-bound on TOAST).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

COLUMNS = (("voevent", "xml"), ("conflict", "xml"))


def _set(method: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in COLUMNS:
        # A server built without lz4 keeps pglz: same data, only slower to write.
        op.execute(
            f"DO $$ BEGIN ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION {method};"
            " EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN NULL; END $$"
        )


def upgrade() -> None:
    _set("lz4")


def downgrade() -> None:
    _set("pglz")

"""Copy each packet's author date onto its positions; q3c index covering the cone columns.

A cone with an authored range (the commonest query) is then answered by one index-only scan
of ``coord``: the q3c pixel is the key, and the INCLUDE columns are all that the exact
distance test, the position and author time filters and the packet id need.  Packets never
change once stored, so the copy cannot go stale.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vohub.archive.models import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

COVERING = (
    "CREATE INDEX ix_coord_q3c ON coord (q3c_ang2ipix(ra, dec))"
    " INCLUDE (ra, dec, author_datetime, time, voevent_id)"
)
PLAIN = "CREATE INDEX ix_coord_q3c ON coord (q3c_ang2ipix(ra, dec))"
BACKFILL = (
    "UPDATE coord SET author_datetime = ("
    "SELECT voevent.author_datetime FROM voevent WHERE voevent.id = coord.voevent_id)"
)


def upgrade() -> None:
    with op.batch_alter_table("coord") as batch:
        batch.add_column(sa.Column("author_datetime", UtcDateTime(), nullable=True))
    op.execute(BACKFILL)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_coord_q3c")
        op.execute(COVERING)
        # The planner's statistics of the pixel expression went with the old index; without
        # them it guesses a cone's rows a thousandfold too high and plans full scans.
        op.execute("ANALYZE coord")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_coord_q3c")
        op.execute(PLAIN)
    with op.batch_alter_table("coord") as batch:
        batch.drop_column("author_datetime")

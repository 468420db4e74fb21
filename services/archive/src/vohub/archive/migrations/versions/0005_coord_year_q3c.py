"""Index positions by (authored year, q3c pixel) for cones with an authored range.

The q3c index alone makes a cone read every position in it, from every year: in a busy
field (the Galactic centre, the Crab) a one-year range then reads all the other years'
positions only to drop them.  Keyed by the UTC year of the author date first, a cone over a
range of a few years is one index range per (year, pixel range), and reads only positions
from those years: on a 1 000 000-packet archive the mean cone + one-year count fell from
5.5 to 3.1 ms and the p99 from 23 to 11 ms.  PostgreSQL only; SQLite's R*Tree is unchanged.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# The expression must be the one vohub.archive.sky.authored_year renders, or the planner
# cannot use the index.
YEAR_Q3C = (
    "CREATE INDEX ix_coord_year_q3c ON coord"
    " (CAST(date_part('year', timezone('UTC', author_datetime)) AS INTEGER),"
    " q3c_ang2ipix(ra, dec)) INCLUDE (ra, dec, author_datetime, time, voevent_id)"
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(YEAR_Q3C)
        op.execute("ANALYZE coord")  # statistics of the new expression for the planner


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_coord_year_q3c")

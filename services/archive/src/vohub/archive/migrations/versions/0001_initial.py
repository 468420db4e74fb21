"""Initial schema: voevent, coord, cite (as voeventdb), conflict, rollup and the sky index.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vohub.archive.models import BinaryText, UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ROLES = "role IN ('observation', 'prediction', 'utility', 'test')"
CITE_TYPES = "cite_type IN ('followup', 'supersedes', 'retraction')"
DOUBLE = sa.Float(precision=53)


def upgrade() -> None:
    _voevent()
    _coord()
    _cite()
    _conflict()
    _rollup()
    _sky_index()


def _voevent() -> None:
    op.create_table(
        "voevent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("received", UtcDateTime(), nullable=False),
        sa.Column("ivorn", BinaryText, nullable=False),
        sa.Column("stream", BinaryText, nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("version", sa.String(), nullable=True),
        sa.Column("author_ivorn", sa.String(), nullable=True),
        sa.Column("author_datetime", UtcDateTime(), nullable=True),
        sa.Column("xml", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint(ROLES, name=op.f("ck_voevent_role")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voevent")),
        sa.UniqueConstraint("ivorn", name=op.f("uq_voevent_ivorn")),
    )
    op.create_index("ix_voevent_author_datetime_id", "voevent", ["author_datetime", "id"])
    op.create_index(op.f("ix_voevent_role"), "voevent", ["role"])
    op.create_index(op.f("ix_voevent_stream"), "voevent", ["stream"])


def _coord() -> None:
    op.create_table(
        "coord",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("voevent_id", sa.Integer(), nullable=False),
        sa.Column("ra", DOUBLE, nullable=False),
        sa.Column("dec", DOUBLE, nullable=False),
        sa.Column("error", DOUBLE, nullable=True),
        sa.Column("time", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["voevent_id"], ["voevent.id"], name=op.f("fk_coord_voevent_id_voevent")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coord")),
    )
    op.create_index(op.f("ix_coord_dec"), "coord", ["dec"])
    op.create_index(op.f("ix_coord_time"), "coord", ["time"])
    op.create_index(op.f("ix_coord_voevent_id"), "coord", ["voevent_id"])


def _cite() -> None:
    op.create_table(
        "cite",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("voevent_id", sa.Integer(), nullable=False),
        sa.Column("ref_ivorn", BinaryText, nullable=False),
        sa.Column("cite_type", sa.String(length=16), nullable=False),
        sa.Column("description", sa.String(), nullable=True),
        sa.CheckConstraint(CITE_TYPES, name=op.f("ck_cite_cite_type")),
        sa.ForeignKeyConstraint(
            ["voevent_id"], ["voevent.id"], name=op.f("fk_cite_voevent_id_voevent")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cite")),
    )
    op.create_index(op.f("ix_cite_ref_ivorn"), "cite", ["ref_ivorn"])
    op.create_index(op.f("ix_cite_voevent_id"), "cite", ["voevent_id"])


def _conflict() -> None:
    op.create_table(
        "conflict",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ivorn", BinaryText, nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("received", UtcDateTime(), nullable=False),
        sa.Column("xml", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conflict")),
        sa.UniqueConstraint("ivorn", "digest", name=op.f("uq_conflict_ivorn_digest")),
    )
    op.create_index(op.f("ix_conflict_ivorn"), "conflict", ["ivorn"])


def _rollup() -> None:
    op.create_table(
        "rollup",
        sa.Column("stream", BinaryText, nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("stream", "role", "month", name=op.f("pk_rollup")),
    )


def _sky_index() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS q3c")
        op.execute("CREATE INDEX ix_coord_q3c ON coord (q3c_ang2ipix(ra, dec))")
    else:
        op.execute("CREATE VIRTUAL TABLE coord_sky USING rtree(id, x0, x1, y0, y1, z0, z1)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_coord_q3c")
    else:
        op.execute("DROP TABLE coord_sky")
    for name in ("rollup", "conflict", "cite", "coord", "voevent"):
        op.drop_table(name)

"""Alembic environment: migrate the connection handed over by :mod:`vohub.archive.schema`."""

from __future__ import annotations

from typing import Any

from alembic import context

from vohub.archive.models import Base
from vohub.archive.sky import SKY_TABLE

#: Objects the migrations create outside the declarative metadata (backend-specific indexes).
UNMANAGED_INDEXES = {"ix_coord_q3c", "ix_coord_year_q3c"}


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Leave the SQLite R*Tree (and its shadow tables) and the q3c indexes out of comparisons."""
    if type_ == "table" and name is not None and name.startswith(SKY_TABLE):
        return False
    return not (type_ == "index" and name in UNMANAGED_INDEXES)


def run_migrations_online() -> None:
    connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        include_object=include_object,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()

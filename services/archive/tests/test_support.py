"""The archive's test support in vohub.testing: PostgreSQL fixtures fail loudly, never skip."""

from __future__ import annotations

import pytest

from vohub.testing import postgres


def test_unreachable_postgres_is_a_clear_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(postgres.URL_ENV, "postgresql://postgres@127.0.0.1:1/postgres")
    with pytest.raises(postgres.PostgresUnavailable, match=r"127\.0\.0\.1:1/postgres is unreach"):
        postgres.create_database(postgres.database_name("never"))


@pytest.mark.postgres
def test_databases_come_with_q3c(postgres_url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg2://"))
    with engine.connect() as connection:
        found = connection.execute(text("SELECT q3c_dist(0, 0, 0, 1)")).scalar_one()
    engine.dispose()
    assert found == pytest.approx(1.0)

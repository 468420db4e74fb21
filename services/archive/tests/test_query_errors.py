"""Requests the archive cannot answer (InvalidQuery naming the field), and dropped connections."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest
from sqlalchemy import Engine

from vohub.archive.errors import InvalidQuery
from vohub.archive.filters import Order, PacketFilter
from vohub.archive.sky import Cone
from vohub.archive.store import Store
from vohub.testing.archive import make_packet


def test_bad_page_requests_name_the_field(store: Store) -> None:
    store.ingest_packets([(make_packet(f"ivo://vohub.test/e#{i}"), None) for i in range(3)])
    with pytest.raises(InvalidQuery, match=r"^limit: must be within \[0, 10000\], not 10001"):
        store.list_page(PacketFilter(), limit=10_001)
    with pytest.raises(InvalidQuery, match=r"^offset: must be >= 0, not -1"):
        store.list_page(PacketFilter(), offset=-1)
    cursor = store.list_page(PacketFilter(), limit=2).next_cursor
    assert cursor
    with pytest.raises(InvalidQuery, match=r"^cursor: was issued for another filter"):
        store.list_page(PacketFilter(role=("test",)), limit=2, cursor_text=cursor)
    with pytest.raises(InvalidQuery, match=r"^cursor: not a cursor"):
        store.list_page(PacketFilter(), cursor_text="!!")


def _edited(cursor: str, **changes: object) -> str:
    """``cursor`` with fields of its JSON body replaced, as a user could do by hand."""
    body = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    text = json.dumps({**body, **changes}).encode()
    return base64.urlsafe_b64encode(text).decode().rstrip("=")


@pytest.mark.parametrize(
    ("order", "changes"),
    [
        (Order.AUTHOR_DATETIME_DESC, {"k": {"t": "bogus"}}),
        (Order.AUTHOR_DATETIME_DESC, {"k": {"t": None}}),
        (Order.AUTHOR_DATETIME_DESC, {"k": {"t": 5}}),
        (Order.AUTHOR_DATETIME_DESC, {"k": {}}),
        (Order.AUTHOR_DATETIME_DESC, {"k": "2023"}),
        (Order.AUTHOR_DATETIME_DESC, {"k": {"t": "2023-01-01T00:00:00"}}),  # no time zone
        (Order.AUTHOR_DATETIME, {"k": {"t": "0001-01-01T00:00:00+14:00"}}),  # before year 1 in UTC
        (Order.ID, {"i": 1e300}),
        (Order.ID, {"i": 99999999999999999999999}),
        (Order.ID_DESC, {"i": "7"}),
        (Order.ID, {"i": True}),
        (Order.IVORN, {"k": {"t": "x"}}),
        (Order.IVORN, {"k": "\ud800"}),
        (Order.IVORN_DESC, {"k": "ivo://a\u0000b"}),
    ],
)
def test_an_edited_cursor_is_refused_by_name(
    store: Store, order: Order, changes: dict[str, object]
) -> None:
    store.ingest_packets([(make_packet(f"ivo://vohub.test/e#{i}"), None) for i in range(3)])
    cursor = store.list_page(PacketFilter(), order=order, limit=1).next_cursor
    assert len(store.list_page(PacketFilter(), order=order, cursor_text=cursor).rows) == 2
    with pytest.raises(InvalidQuery, match=r"^cursor: not a cursor from this archive"):
        store.list_page(PacketFilter(), order=order, cursor_text=_edited(cursor, **changes))


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"role": ("bogus",)}, r"^filter.role: unknown role 'bogus'"),
        ({"dec_lt": -90.5}, r"^filter.dec_lt: must be within"),
        ({"cone": Cone(0.0, 95.0, 1.0)}, r"^filter.cone.dec: must be within"),
        ({"cone": Cone(0.0, 0.0, -1.0)}, r"^filter.cone.radius: must be >= 0"),
        ({"cone": Cone(float("nan"), 0.0, 1.0)}, r"^filter.cone.ra: must be a finite"),
    ],
)
def test_bad_filters_name_the_field(store: Store, filters: dict[str, object], message: str) -> None:
    f = PacketFilter(**filters)  # type: ignore[arg-type]
    with pytest.raises(InvalidQuery, match=message):
        store.count(f)
    with pytest.raises(InvalidQuery, match=message):
        store.list_page(f)


@pytest.mark.postgres
def test_reads_and_writes_survive_the_server_dropping_pooled_connections(
    migrated: Callable[[str, str], Engine],
) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    store = Store(migrated("postgresql", "stale"))
    store.ingest_packets([(make_packet("ivo://vohub.test/stale#1"), None)])
    assert store.count(PacketFilter(coord=False)) == 1  # both pools hold open connections
    killer = create_engine(store.engine.url, poolclass=NullPool)
    with killer.connect() as connection:
        connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    killer.dispose()
    assert store.count(PacketFilter(coord=False)) == 1
    assert store.xml("ivo://vohub.test/stale#1").startswith(b"<VOEvent")
    [result] = store.ingest_packets([(make_packet("ivo://vohub.test/stale#2"), None)])
    assert result.outcome == "stored"

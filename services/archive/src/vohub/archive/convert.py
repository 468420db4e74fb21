"""Translate between the gRPC messages of ``archive.proto`` and the store's plain values."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from vohub.archive.errors import InvalidQuery
from vohub.archive.filters import ListKind, MapKind, Order, PacketFilter
from vohub.archive.ingest import IngestResult, Outcome
from vohub.archive.sky import Cone
from vohub.archive.store import MapRow
from vohub.archive.synopsis import Synopsis
from vohub.common.timestamps import field_datetime, to_timestamp
from vohub.v1 import archive_pb2 as pb

ROLE_NAMES = {
    pb.OBSERVATION: "observation",
    pb.PREDICTION: "prediction",
    pb.UTILITY: "utility",
    pb.TEST: "test",
}
ROLE_VALUES = {name: value for value, name in ROLE_NAMES.items()}
ORDERS = {
    pb.ORDER_ID: Order.ID,
    pb.ORDER_ID_DESC: Order.ID_DESC,
    pb.ORDER_AUTHOR_DATETIME: Order.AUTHOR_DATETIME,
    pb.ORDER_AUTHOR_DATETIME_DESC: Order.AUTHOR_DATETIME_DESC,
    pb.ORDER_IVORN: Order.IVORN,
    pb.ORDER_IVORN_DESC: Order.IVORN_DESC,
}
LIST_KINDS = {
    pb.ListRequest.IVORN: ListKind.IVORN,
    pb.ListRequest.IVORN_NREFS: ListKind.NREFS,
    pb.ListRequest.IVORN_NCITES: ListKind.NCITES,
    pb.ListRequest.SYNOPSIS: ListKind.SYNOPSIS,
}
MAP_KINDS = {
    pb.MapRequest.STREAM: MapKind.STREAM,
    pb.MapRequest.ROLE: MapKind.ROLE,
    pb.MapRequest.STREAM_ROLE: MapKind.STREAM_ROLE,
    pb.MapRequest.AUTHORED_MONTH: MapKind.AUTHORED_MONTH,
}
OUTCOMES = {
    Outcome.STORED: pb.IngestResult.STORED,
    Outcome.DUPLICATE: pb.IngestResult.DUPLICATE,
    Outcome.CONFLICT: pb.IngestResult.CONFLICT,
    Outcome.INVALID: pb.IngestResult.INVALID,
}


def _optional(message: pb.Filter, field: str) -> object:
    return getattr(message, field) if message.HasField(field) else None  # type: ignore[arg-type]


def timestamp_field(message: Any, field: str, prefix: str = "") -> datetime | None:
    """The Timestamp ``field`` of ``message`` as a UTC datetime (None when unset);
    :class:`InvalidQuery` naming ``prefix + field`` when it is out of datetime's range.

    >>> from google.protobuf.timestamp_pb2 import Timestamp
    >>> timestamp_field(pb.Filter(authored_since=Timestamp(seconds=10**12)), "authored_since")
    Traceback (most recent call last):
    ...
    vohub.archive.errors.InvalidQuery: authored_since: seconds 1000000000000 is out of range \
(years 1 to 9999)
    """
    try:
        return field_datetime(message, field)
    except (OverflowError, ValueError):
        seconds = getattr(message, field).seconds
        raise InvalidQuery(
            prefix + field, f"seconds {seconds} is out of range (years 1 to 9999)"
        ) from None


def filter_from_pb(message: pb.Filter) -> PacketFilter:
    """The store's filter for a Filter message; unknown roles are :class:`InvalidQuery`."""
    roles = []
    for value in message.role:
        if value not in ROLE_NAMES:
            raise InvalidQuery("filter.role", f"role value {value} is not a known role")
        roles.append(ROLE_NAMES[value])
    cone = message.cone
    return PacketFilter(
        authored_since=timestamp_field(message, "authored_since", "filter."),
        authored_until=timestamp_field(message, "authored_until", "filter."),
        cited=_optional(message, "cited"),  # type: ignore[arg-type]
        cone=Cone(cone.ra, cone.dec, cone.radius) if message.HasField("cone") else None,
        coord=_optional(message, "coord"),  # type: ignore[arg-type]
        dec_gt=_optional(message, "dec_gt"),  # type: ignore[arg-type]
        dec_lt=_optional(message, "dec_lt"),  # type: ignore[arg-type]
        ivorn_contains=tuple(message.ivorn_contains),
        ivorn_prefix=tuple(message.ivorn_prefix),
        ref_any=_optional(message, "ref_any"),  # type: ignore[arg-type]
        ref_contains=tuple(message.ref_contains),
        ref_exact=tuple(message.ref_exact),
        role=tuple(roles),
        stream=tuple(message.stream),
        stream_prefix=tuple(message.stream_prefix),
        event_since=timestamp_field(message, "event_since", "filter."),
        event_until=timestamp_field(message, "event_until", "filter."),
    )


def _lookup(table: dict[int, object], value: int, field: str) -> object:
    if value not in table:
        raise InvalidQuery(field, f"unknown value {value}")
    return table[value]


def order_from_pb(value: int) -> Order:
    """The list order for an Order enum value."""
    return _lookup(ORDERS, value, "order")  # type: ignore[arg-type, return-value]


def list_kind_from_pb(value: int) -> ListKind:
    """The list kind for a ListRequest.Kind value."""
    return _lookup(LIST_KINDS, value, "kind")  # type: ignore[arg-type, return-value]


def map_kind_from_pb(value: int) -> MapKind:
    """The map kind for a MapRequest.Kind value."""
    return _lookup(MAP_KINDS, value, "kind")  # type: ignore[arg-type, return-value]


def result_to_pb(result: IngestResult) -> pb.IngestResult:
    """An IngestResult message."""
    return pb.IngestResult(
        ivorn=result.ivorn, outcome=OUTCOMES[result.outcome], reason=result.reason
    )


def map_row_to_pb(row: MapRow) -> pb.MapEntry:
    """A MapEntry; the key stays unset for packets with no author date."""
    entry = pb.MapEntry(subkey=row.subkey, count=row.count)
    if row.key is not None:
        entry.key = row.key
    return entry


def synopsis_to_pb(synopsis: Synopsis) -> pb.PacketSynopsis:
    """A PacketSynopsis message."""
    message = pb.PacketSynopsis(
        ivorn=synopsis.ivorn,
        received=to_timestamp(synopsis.received),
        stream=synopsis.stream,
        role=ROLE_VALUES[synopsis.role],
        version=synopsis.version or "",
        cited_by=list(synopsis.cited_by),
    )
    if synopsis.author_ivorn is not None:
        message.author_ivorn = synopsis.author_ivorn
    if synopsis.author_datetime is not None:
        message.author_datetime.CopyFrom(to_timestamp(synopsis.author_datetime))
    for c in synopsis.coords:
        coord = message.coords.add(ra=c.ra, dec=c.dec)
        if c.error is not None:
            coord.error = c.error
        if c.time is not None:
            coord.time.CopyFrom(to_timestamp(c.time))
    for r in synopsis.refs:
        ref = message.refs.add(ref_ivorn=r.ref_ivorn, cite_type=r.cite_type)
        if r.description is not None:
            ref.description = r.description
    return message

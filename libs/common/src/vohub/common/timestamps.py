"""Protobuf ``Timestamp`` to and from ``datetime``, by plain arithmetic.

protobuf's own ``FromDatetime`` and ``ToDatetime`` go through ``calendar`` and time-zone
conversion: on the archive's synopsis pages and the gateway's apiv2 pages they took about a
sixth of the CPU. The services' messages carry every time as a Timestamp, so both sides convert
here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)


def to_timestamp(moment: datetime) -> Timestamp:
    """A Timestamp from a datetime (naive means UTC).

    >>> stamp = to_timestamp(datetime(1969, 12, 31, 23, 59, 58, 250000, tzinfo=UTC))
    >>> stamp.seconds, stamp.nanos
    (-2, 250000000)
    """
    since = moment - (EPOCH if moment.tzinfo is not None else _NAIVE_EPOCH)
    return Timestamp(seconds=since.days * 86_400 + since.seconds, nanos=since.microseconds * 1000)


def to_datetime(stamp: Timestamp) -> datetime:
    """An aware UTC datetime from a Timestamp (nanoseconds cut to microseconds).

    >>> to_datetime(Timestamp(seconds=-2, nanos=250000999)).isoformat()
    '1969-12-31T23:59:58.250000+00:00'
    """
    return EPOCH + timedelta(seconds=stamp.seconds, microseconds=stamp.nanos // 1000)


def field_datetime(message: Any, field: str) -> datetime | None:
    """The Timestamp ``field`` of ``message`` as an aware UTC datetime; None when it is unset.

    >>> class Reply:  # stands for any message with optional Timestamp fields
    ...     received = Timestamp(seconds=1442353430)
    ...     def HasField(self, name): return name == "received"
    >>> field_datetime(Reply(), "received").isoformat(), field_datetime(Reply(), "updated")
    ('2015-09-15T21:43:50+00:00', None)
    """
    return to_datetime(getattr(message, field)) if message.HasField(field) else None

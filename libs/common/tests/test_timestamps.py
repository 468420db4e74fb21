"""The arithmetic conversions agree with protobuf's own, both ways."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from vohub.common.timestamps import to_datetime, to_timestamp

MOMENTS = [
    datetime(1970, 1, 1, tzinfo=UTC),
    datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(1, 1, 1, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2015, 9, 15, 21, 43, 50, 123456, tzinfo=UTC),
    datetime(2016, 2, 29, 1, 2, 3, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
    datetime(2015, 9, 15, 21, 43, 50, 7),  # naive: UTC
]


@pytest.mark.parametrize("moment", MOMENTS, ids=str)
def test_to_timestamp_equals_from_datetime(moment: datetime) -> None:
    theirs = Timestamp()
    theirs.FromDatetime(moment)
    assert to_timestamp(moment) == theirs


@pytest.mark.parametrize("moment", MOMENTS, ids=str)
def test_to_datetime_equals_to_datetime_of_protobuf(moment: datetime) -> None:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    stamp.nanos += 999 if stamp.nanos < 999_999_000 else 0  # below a microsecond: cut, as theirs
    assert to_datetime(stamp) == stamp.ToDatetime(tzinfo=UTC)
    assert to_datetime(stamp).tzinfo is UTC

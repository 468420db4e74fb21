"""Filters given as Python and astropy values become the query strings the server expects."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import Angle, SkyCoord
from astropy.time import Time

from vohub.client.errors import InvalidFilter
from vohub.client.filters import encode_cone, merge, to_pairs


def test_cone_from_astropy_and_numpy2_floats() -> None:
    centre = SkyCoord(np.float64(319.7) * u.deg, np.float64(-34.85) * u.deg)
    assert encode_cone((centre, Angle(np.float64(0.5), u.deg))) == "[319.7, -34.85, 0.5]"
    assert encode_cone((np.float64(1.5), np.float64(2.0), np.float64(0.1))) == "[1.5, 2.0, 0.1]"
    assert encode_cone((centre, 30 * u.arcmin)) == "[319.7, -34.85, 0.5]"


def test_cone_in_galactic_is_sent_in_icrs() -> None:
    galactic = SkyCoord(l=0 * u.deg, b=0 * u.deg, frame="galactic")
    ra, dec, _ = (float(x) for x in encode_cone((galactic, Angle(1, u.deg))).strip("[]").split(","))
    assert (round(ra, 2), round(dec, 2)) == (266.4, -28.94)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (datetime(2016, 9, 1), "2016-09-01T00:00:00+00:00"),
        (date(2016, 9, 1), "2016-09-01T00:00:00+00:00"),
        (datetime(2016, 9, 1, 2, tzinfo=timezone(timedelta(hours=2))), "2016-09-01T00:00:00+00:00"),
        (Time("2016-09-01T00:00:00.5", scale="utc"), "2016-09-01T00:00:00.500000+00:00"),
        (Time(57631.0, format="mjd", scale="tt"), "2016-08-30T23:58:51.816000+00:00"),
        ("2016-09", "2016-09"),
    ],
)
def test_times(value: object, text: str) -> None:
    assert to_pairs({"authored_since": value}) == [("authored_since", text)]


def test_multi_values_and_booleans() -> None:
    pairs = to_pairs({"role": ("test", "utility"), "stream": "a/b", "ref_any": False})
    assert pairs == [("role", "test"), ("role", "utility"), ("stream", "a/b"), ("ref_any", "false")]


def test_keywords_override_dict() -> None:
    assert merge({"role": "test", "cited": True}, {"role": "utility"}) == {
        "role": "utility",
        "cited": True,
    }


@pytest.mark.parametrize(
    ("filters", "key"),
    [
        ({"colour": 1}, "colour"),
        ({"cone": (1, 2)}, "cone"),
        ({"authored_since": 2016}, "authored_since"),
        ({"stream": [object()]}, "stream"),
    ],
)
def test_bad_filters_name_the_key(filters: dict[str, object], key: str) -> None:
    with pytest.raises(InvalidFilter) as caught:
        to_pairs(filters)
    assert caught.value.key == key


@pytest.mark.parametrize(
    ("cone", "message"),
    [
        ((SkyCoord([1, 2], [3, 4], unit="deg"), 1 * u.deg), "not one position and radius"),
        ((SkyCoord(1, 2, unit="deg"), 3 * u.m), "'m' (length) and 'deg' (angle)"),
        ((1, 2, "wide"), "not one position and radius"),
        ((1, 2, float("nan")), "not finite: [1.0, 2.0, nan]"),
        (SkyCoord(1, 2, unit="deg"), "or (ra, dec, radius), not (SkyCoord)"),
    ],
)
def test_a_cone_astropy_cannot_make_one_position_of_is_invalid(cone: object, message: str) -> None:
    with pytest.raises(InvalidFilter) as caught:
        encode_cone(cone)
    assert caught.value.key == "cone"
    assert message in str(caught.value)


def test_cone_numbers_may_be_angular_quantities() -> None:
    assert encode_cone((15 * u.deg, 2 * u.deg, 30 * u.arcmin)) == "[15.0, 2.0, 0.5]"


def test_datetime_aware_utc_kept() -> None:
    assert to_pairs({"event_until": datetime(2020, 6, 1, tzinfo=UTC)}) == [
        ("event_until", "2020-06-01T00:00:00+00:00")
    ]


@pytest.mark.parametrize(
    ("filters", "pairs"),
    [  # astropy's .deg and numpy arithmetic give numpy numbers, not Python floats
        ({"dec_gt": SkyCoord(1, 80, unit="deg").dec.deg}, [("dec_gt", "80.0")]),
        ({"dec_lt": np.float32(1.5)}, [("dec_lt", "1.5")]),
        ({"dec_lt": np.int64(3)}, [("dec_lt", "3")]),
        ({"dec_gt": 80 * u.deg, "dec_lt": Angle([85], u.deg)},
         [("dec_gt", "80.0"), ("dec_lt", "85.0")]),
        ({"cited": np.bool_(True)}, [("cited", "true")]),
        ({"cone": (SkyCoord([162.2], [-50.8], unit="deg"), [3] * u.deg)},
         [("cone", "[162.2, -50.8, 3.0]")]),
        ({"authored_since": Time(["2016-09-01T00:00:00"], scale="utc")},
         [("authored_since", "2016-09-01T00:00:00+00:00")]),
    ],
)  # fmt: skip
def test_numpy_values_and_arrays_of_one_are_sent_as_plain_numbers(
    filters: dict[str, object], pairs: list[tuple[str, str]]
) -> None:
    assert to_pairs(filters) == pairs


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"authored_since": Time("2016-12-31T23:59:60", scale="utc")}, "within a leap second"),
        ({"authored_until": Time("2016-01-01", scale="local")}, "Cannot convert Time"),
        ({"dec_gt": 5 * u.m}, "dec_gt: cannot send this Quantity: 'm' .* not convertible"),
        ({"dec_gt": Angle([80, 81], u.deg)}, "2 values where one is needed"),
        ({"cone": (SkyCoord(alt=10 * u.deg, az=20 * u.deg, frame="altaz"), 1 * u.deg)},
         "cone: not one position and radius"),
    ],
)  # fmt: skip
def test_values_astropy_cannot_convert_are_invalid_filters(
    filters: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidFilter, match=message):
        to_pairs(filters)

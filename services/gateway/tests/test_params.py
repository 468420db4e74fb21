"""Query-string parsing into archive Filters: value formats, multi-value rules, errors."""

from __future__ import annotations

from datetime import UTC, datetime

import falcon.testing
import pytest

from vohub.gateway.errors import InvalidParameter, LimitExceeded
from vohub.gateway.paging import PAGING_V1, parse_paging
from vohub.gateway.params import (
    FILTERS,
    FILTERS_V2,
    build_filter,
    parse_cone,
    parse_datetime,
    parse_query_string,
)
from vohub.v1 import archive_pb2


def filter_of(query: str) -> archive_pb2.Filter:
    pairs = parse_query_string(query)
    grouped: dict[str, list[str]] = {}
    for k, v in pairs:
        grouped.setdefault(k, []).append(v)
    return build_filter(grouped, FILTERS, PAGING_V1)


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("2015", "2015-01-01T00:00:00+00:00"),
        ("2015-10", "2015-10-01T00:00:00+00:00"),
        ("2015-10-09", "2015-10-09T00:00:00+00:00"),
        ("2015-09-15T21:19:42", "2015-09-15T21:19:42+00:00"),
        ("2015-09-15 21:19:42", "2015-09-15T21:19:42+00:00"),
        ("2015-09-15T21:19:42Z", "2015-09-15T21:19:42+00:00"),
        ("2015-09-15T23:19:42+02:00", "2015-09-15T21:19:42+00:00"),
        ("2015-09-15T16:19:42-0500", "2015-09-15T21:19:42+00:00"),
        ("20150915T211942Z", "2015-09-15T21:19:42+00:00"),
        ("2015-09-15T21:19:42.123456789", "2015-09-15T21:19:42.123456+00:00"),
        ("2015-09-15T21:19", "2015-09-15T21:19:00+00:00"),
        ("2016-09-01T00:00:00.000001+00:00", "2016-09-01T00:00:00.000001+00:00"),
    ],
)
def test_datetimes_accepted_as_iso8601_does(text: str, iso: str) -> None:
    assert parse_datetime(text, "authored_since").isoformat() == iso


@pytest.mark.parametrize("text", ["yesterday", "", "2015-13-01", "2015-02-30", "15-01-01", "2015-"])
def test_bad_datetimes_are_400_naming_the_key(text: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        filter_of(f"authored_until={text}")
    assert caught.value.parameter == "authored_until"
    assert caught.value.status == 400


def test_datetime_filter_sets_timestamp() -> None:
    f = filter_of("authored_since=2015-10&authored_until=2016-01-01T00:00:00%2B01:00")
    assert f.authored_since.ToJsonString() == "2015-10-01T00:00:00Z"
    assert f.authored_until.ToJsonString() == "2015-12-31T23:00:00Z"


@pytest.mark.parametrize(
    "text",
    [
        "[319.7, -34.85, 0.5]",
        "[np.float64(319.7), np.float64(-34.85), np.float64(0.5)]",
        "[np.float32(319.7),np.float64(-34.85),np.int64(0.5)]",
        "319.7,-34.85,0.5",
        "[319.7,-34.85,0.5]",
    ],
)
def test_cone_forms(text: str) -> None:
    cone = parse_cone(text)
    assert (round(cone.ra, 3), round(cone.dec, 3), round(cone.radius, 3)) == (319.7, -34.85, 0.5)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[1,2]", "not [ra, dec, radius]"),
        ("[1,2,3,4]", "not [ra, dec, radius]"),
        ("[1,95,3]", "dec 95.0 is outside"),
        ("[1,2,-3]", "radius -3.0"),
        ('["a",2,3]', "not [ra, dec, radius]"),
        ("[true,2,3]", "not [ra, dec, radius]"),
        ("[NaN,2,3]", "not finite"),
        ("{}", "not [ra, dec, radius]"),
        ("[[[[[[[[", "not [ra, dec, radius]"),
    ],
)
def test_bad_cones_name_the_problem(text: str, needle: str) -> None:
    with pytest.raises(InvalidParameter, match="cone") as caught:
        parse_cone(text)
    assert needle in caught.value.message


def test_first_value_used_but_all_validated() -> None:
    f = filter_of("cone=[10,20,1]&cone=[30,40,2]")
    assert (f.cone.ra, f.cone.dec, f.cone.radius) == (10, 20, 1)
    with pytest.raises(InvalidParameter, match="cone"):
        filter_of("cone=[10,20,1]&cone=[30,99,2]")
    with pytest.raises(InvalidParameter, match="role"):
        filter_of("role=test&role=bogus")


def test_repeated_keys_keep_all_values_in_order() -> None:
    f = filter_of(
        "role=test&role=utility&role=prediction&stream=a/b&stream=c/d"
        "&ivorn_contains=x&ivorn_contains=y&ivorn_prefix=ivo%3A%2F%2Fa%23&ref_exact=r1&ref_exact=r2"
        "&ref_contains=q"
    )
    assert list(f.role) == [archive_pb2.TEST, archive_pb2.UTILITY, archive_pb2.PREDICTION]
    assert list(f.stream) == ["a/b", "c/d"]
    assert list(f.ivorn_contains) == ["x", "y"]
    assert list(f.ivorn_prefix) == ["ivo://a#"]
    assert list(f.ref_exact) == ["r1", "r2"]
    assert list(f.ref_contains) == ["q"]


@pytest.mark.parametrize("word", ["true", "True", "TRUE", "tRuE"])
def test_booleans_any_case(word: str) -> None:
    f = filter_of(f"cited={word}&coord={word}&ref_any=FALSE")
    assert (f.HasField("cited"), f.cited, f.coord, f.HasField("ref_any"), f.ref_any) == (
        True,
        True,
        True,
        True,
        False,
    )


def test_unset_booleans_stay_unset() -> None:
    f = filter_of("")
    assert not f.HasField("cited")
    assert not f.HasField("coord")
    assert not f.HasField("ref_any")


# voeventdb compares value.lower() with 'true' and 'false': a blank around the word is a 400.
@pytest.mark.parametrize(
    "query",
    ["cited=yes", "coord=1", "ref_any=", "cited=%20true", "coord=true+", "ref_any=%09false"],
)
def test_non_boolean_is_400(query: str) -> None:
    with pytest.raises(InvalidParameter, match="not a boolean"):
        filter_of(query)


def test_dec_bounds() -> None:
    f = filter_of("dec_gt=-30.5&dec_lt=89")
    assert (f.dec_gt, f.dec_lt) == (-30.5, 89)
    for bad in ("dec_gt=-91", "dec_lt=abc", "dec_lt=inf", "dec_gt=nan"):
        with pytest.raises(InvalidParameter, match=bad.split("=")[0]):
            filter_of(bad)


@pytest.mark.parametrize("text", ["1_0", "%D9%A1", "%EF%BC%91", "1e", ".", "--1"])
def test_a_number_is_ascii_decimal(text: str) -> None:
    """``float`` read ``1_0`` as 10 and Arabic-Indic or full-width digits as numbers."""
    with pytest.raises(InvalidParameter, match="dec_gt: not a number"):
        filter_of(f"dec_gt={text}")
    assert filter_of("dec_gt=1.5e1&dec_lt=-.5").dec_gt == 15.0


def test_unknown_key_is_400_naming_it() -> None:
    with pytest.raises(InvalidParameter) as caught:
        filter_of("foo=bar")
    assert caught.value.parameter == "foo"
    assert "unknown query parameter" in caught.value.message


def test_v2_keys_only_in_v2_table() -> None:
    with pytest.raises(InvalidParameter, match="stream_prefix"):
        filter_of("stream_prefix=nasa")
    f = build_filter(
        {"stream_prefix": ["nasa.gsfc.gcn/"], "event_since": ["2016-01-01"]}, FILTERS_V2
    )
    assert list(f.stream_prefix) == ["nasa.gsfc.gcn/"]
    assert f.event_since.ToJsonString() == "2016-01-01T00:00:00Z"


def test_v2_streams_drop_the_ivo_scheme_and_v1_keeps_it() -> None:
    given = {"stream": ["ivo://nasa.gsfc.gcn/SWIFT", "gaia.cam.uk/alerts"],
             "stream_prefix": ["IVO://nasa.gsfc.gcn/"]}  # fmt: skip
    v2 = build_filter(given, FILTERS_V2)
    assert list(v2.stream) == ["nasa.gsfc.gcn/SWIFT", "gaia.cam.uk/alerts"]
    assert list(v2.stream_prefix) == ["nasa.gsfc.gcn/"]
    assert list(filter_of("stream=ivo://nasa.gsfc.gcn/SWIFT").stream) == [
        "ivo://nasa.gsfc.gcn/SWIFT"
    ]


def test_query_string_decoding() -> None:
    pairs = parse_query_string("ivorn_prefix=ivo%3A%2F%2Fa%2Fb%23c+d&empty=&bare&&x=%C3%A9")
    assert pairs == [("ivorn_prefix", "ivo://a/b#c d"), ("empty", ""), ("bare", ""), ("x", "é")]


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ("stream=%ZZ", "malformed percent-escape"),
        ("stream=%4", "malformed percent-escape"),
        ("stream=%FF%FE", "not valid UTF-8"),
        ("stream=a%00b", "NUL character"),
        ("%ZZ=1", "malformed percent-escape in parameter name"),
    ],
)
def test_hostile_encodings_are_400(raw: str, needle: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        parse_query_string(raw)
    assert needle in caught.value.message


def test_paging_defaults_and_limits() -> None:
    assert parse_paging({}).limit == 100
    assert parse_paging({"limit": [""], "offset": [""]}) == parse_paging({})
    assert parse_paging({"limit": ["0"]}).limit == 0
    assert parse_paging({"limit": ["10000"]}).limit == 10000
    with pytest.raises(LimitExceeded) as caught:
        parse_paging({"limit": ["10001"]})
    assert caught.value.status == 413
    assert caught.value.parameter == "limit"


@pytest.mark.parametrize(
    ("grouped", "name"),
    [
        ({"limit": ["abc"]}, "limit"),
        ({"limit": ["1.23"]}, "limit"),
        ({"limit": ["-1"]}, "limit"),
        ({"limit": [" "]}, "limit"),  # voeventdb: int(" ") fails, a 400 (only "" is no limit)
        ({"offset": ["abc"]}, "offset"),
        ({"offset": ["-1"]}, "offset"),
        ({"offset": ["9" * 40]}, "offset"),
        ({"order": ["bogus"]}, "order"),
    ],
)
def test_bad_paging_is_400_naming_the_key(grouped: dict[str, list[str]], name: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        parse_paging(grouped)
    assert caught.value.parameter == name
    assert caught.value.status == 400


@pytest.mark.parametrize("prefix", ["0" * 6, "0" * 30, "+", "+00"])
def test_paging_numbers_may_have_leading_zeros_and_a_plus(prefix: str) -> None:
    """voeventdb reads limit and offset with ``int``: ``limit=0000005`` and ``limit=+5`` are 5
    rows (200), where seven digits were taken for more than 10000 rows (413), 25 for no
    integer (400), and a plus sign was a 400."""
    padded = prefix + "5"
    paging = parse_paging({"limit": [padded], "offset": [padded]})
    assert (paging.limit, paging.offset) == (5, 5)
    with pytest.raises(LimitExceeded):
        parse_paging({"limit": [prefix + "10001"]})


def test_orders() -> None:
    assert parse_paging({"order": ["-ivorn", "id"]}).order == archive_pb2.ORDER_IVORN_DESC
    assert parse_paging({}).order == archive_pb2.ORDER_ID


def test_only_the_first_order_is_read(client: falcon.testing.TestClient) -> None:
    """voeventdb reads ``request.args.get("order")``: it answers 200, ordered by id, for
    ``order=id&order=bogus``, and 400 only when the first value is not an order."""
    reply = client.simulate_get("/apiv1/list/ivorn", query_string="order=id&order=bogus")
    assert reply.status_code == 200, reply.text
    assert reply.json["querystring"]["order"] == ["id", "bogus"]
    assert parse_paging({"order": ["-ivorn", "bogus"]}).order == archive_pb2.ORDER_IVORN_DESC
    reply = client.simulate_get("/apiv1/list/ivorn", query_string="order=bogus&order=id")
    assert reply.status_code == 400
    assert reply.json["error"]["parameter"] == "order"


def test_an_offset_past_the_last_or_before_the_first_instant_is_taken_as_it() -> None:
    """These were a 400 "date value out of range", though schema-valid."""
    assert parse_datetime("9999-12-31T23:00-05:00", "a") == datetime.max.replace(tzinfo=UTC)
    assert parse_datetime("0001-01-01T00:30+01", "a") == datetime.min.replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("path", "query", "name"),
    [
        ("/apiv1/list/ivorn", "limit=%C2%B2", "limit"),  # superscript two: isdigit, not int
        ("/apiv1/list/ivorn", "offset=1%C2%B2", "offset"),
        ("/apiv1/list/ivorn", "offset=--5", "offset"),
        ("/apiv2/ivorns", "limit=%E2%91%A0", "limit"),  # circled one
        ("/apiv2/ivorns/n_refs", "limit=--5", "limit"),
        ("/apiv2/packets", "limit=%D9%A3", "limit"),  # Arabic-Indic three: not an ASCII integer
    ],
)
def test_paging_numbers_that_are_not_ascii_integers_are_400_not_500(
    client: falcon.testing.TestClient, path: str, query: str, name: str
) -> None:
    reply = client.simulate_get(path, query_string=query)
    assert reply.status_code == 400, reply.text
    assert reply.json["error"]["parameter"] == name

"""``/openapi.json``'s parameter patterns against the gateway's parsers, both ways.

A value a pattern admits must be read (schema-driven clients generate their values from the
patterns), and a value the gateway refuses must be outside the pattern.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

import falcon.testing
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vohub.gateway.errors import InvalidParameter
from vohub.gateway.params import parse_cone, parse_datetime
from vohub.gateway.patterns import CONE_TEXT, DATETIME_TEXT


@pytest.mark.parametrize(
    "text",
    ["2015", "2015-10", "2015-1-5", "20150915T211942Z", " 2015-09-15 21:19 ", "2015-09-15T21",
     "2015-09-15T21:19:42,5-0530", "9999-12-31T23:59:59Z", "0001-01-01", "2015-1-15",
     "201511", "2015115", "2016-02-29", "2000-2-29", "0400-02-29", "2015-04-30", "2015-12-31",
     "9999-12-31T23:00-05:00", "0001-01-01T00:30+01"],
)  # fmt: skip
def test_the_openapi_time_pattern_admits_what_the_gateway_reads(text: str) -> None:
    assert re.match(DATETIME_TEXT, text)
    parse_datetime(text, "authored_since")


@given(st.from_regex(DATETIME_TEXT))
@settings(max_examples=500, deadline=None)
def test_every_date_time_the_openapi_pattern_admits_is_read(text: str) -> None:
    """A schema-driven client generates its values from the pattern."""
    parse_datetime(text, "authored_since")


@pytest.mark.parametrize(
    "text",
    ["0000", "0000-01-01", "2015-00-01", "2015-01-32", "2015-01-01T24:00", "2015-01-01T23:60",
     "2015-01-01T23:59:60", "2015-01-01T00:00+24:00", "2015-01-01T00:00+05:99",
     "2015-01-01T00:00-0560", "yesterday",
     "2015110", "6674810", "2015-110",  # a month's digits run on: read as month 11, day 0
     "2015-02-29", "1900-02-29", "0100-2-29", "2015-11-31", "2015-4-31", "2015-02-30"],
)  # fmt: skip
def test_the_openapi_time_pattern_refuses_impossible_fields(text: str) -> None:
    """A schema-valid value the gateway then refuses misleads generated clients."""
    assert not re.match(DATETIME_TEXT, text)
    with pytest.raises(InvalidParameter, match=r"^authored_since: "):
        parse_datetime(text, "authored_since")


@given(st.from_regex(CONE_TEXT))
@settings(max_examples=500, deadline=None)
def test_every_cone_the_openapi_pattern_admits_is_read(text: str) -> None:
    parse_cone(text)


def documented_cone(client: falcon.testing.TestClient) -> re.Pattern[str]:
    """The pattern /openapi.json gives ``cone``, the same wherever a filter is taken."""
    paths = client.simulate_get("/openapi.json").json["paths"].values()
    params = [param for path in paths for param in path["get"].get("parameters", [])]
    schemas = [param["schema"] for param in params if param["name"] == "cone"]
    assert len(schemas) > 10
    assert all(schema == schemas[0] for schema in schemas)
    return re.compile(schemas[0].get("pattern", ""))  # no pattern: any string is valid


@pytest.mark.parametrize(
    "text",
    ["[319.7, -34.85, 0.5]", "319.7,-34.85,0.5", " [0,90,180] ", "-10,-90,180.0", "400,0,0",
     "[np.float64(319.7), np.float64(-34.85), np.float64(0.5)]", "[-1e-05, -9.5E-07, 1e-05]",
     "[np.float32(1.5),np.int64(-2), np.float64( 1e-05 )]", "359.99, 89.999999, 0.00001"],
)  # fmt: skip
@pytest.mark.parametrize("path", ["/apiv1/count", "/apiv2/packets/count"])
def test_the_openapi_cone_pattern_admits_what_the_gateway_reads(
    client: falcon.testing.TestClient, path: str, text: str
) -> None:
    assert documented_cone(client).search(text)
    reply = client.simulate_get(path, query_string=urlencode({"cone": text}))
    assert reply.status_code == 200, reply.text


@pytest.mark.parametrize(
    "text",
    ["", " ", "[]", "1,2", "[1,2,3,4]", "[1,2,3", "1,2,3]", "1 2 3", "(1,2,3)", "[[1,2,3]]",
     "[1,95,3]", "[1,-90.5,3]", "[1,2,181]", "[1,2,-3]", "[NaN,2,3]", "[Infinity,0,1]",
     "[.5,1,2]", "[01,2,3]", "[1.,2,3]", "[+1,2,3]", '["1",2,3]', "[true,2,3]",
     "[np.float64(nan),0,1]", "np.float64 (1),2,3", "10h,20d,3d", "1,2,3,"],
)  # fmt: skip
@pytest.mark.parametrize("path", ["/apiv1/count", "/apiv2/packets/count"])
def test_the_openapi_cone_pattern_refuses_what_the_gateway_refuses(
    client: falcon.testing.TestClient, path: str, text: str
) -> None:
    """``cone=`` was schema-valid (a plain string) yet a 400."""
    assert not documented_cone(client).search(text)
    reply = client.simulate_get(path, query_string=urlencode({"cone": text}))
    assert reply.status_code == 400, reply.text
    assert reply.json["error"]["parameter"] == "cone"


def test_the_openapi_offset_range_is_what_the_gateway_takes(
    client: falcon.testing.TestClient,
) -> None:
    """An offset past 2**63 - 1 was schema-valid (no maximum) yet a 400."""
    doc = client.simulate_get("/openapi.json").json
    (schema,) = [p["schema"] for p in doc["paths"]["/apiv1/list/ivorn"]["get"]["parameters"]
                 if p["name"] == "offset"]  # fmt: skip
    assert (schema["minimum"], schema["maximum"]) == (0, 2**63 - 1)
    taken = client.simulate_get("/apiv1/list/ivorn", query_string=f"offset={2**63 - 1}")
    assert taken.status_code == 200
    refused = client.simulate_get("/apiv1/list/ivorn", query_string=f"offset={2**63}")
    assert (refused.status_code, refused.json["error"]["parameter"]) == (400, "offset")


@pytest.mark.parametrize(
    "name", ["ivorn_contains", "ivorn_prefix", "ref_contains", "ref_exact", "stream_prefix"]
)
def test_the_openapi_text_filters_refuse_nul_as_the_gateway_does(
    client: falcon.testing.TestClient, name: str
) -> None:
    """A NUL was schema-valid (a plain string) yet a 400: the database stores none."""
    doc = client.simulate_get("/openapi.json").json
    (schema,) = [p["schema"] for p in doc["paths"]["/apiv2/packets"]["get"]["parameters"]
                 if p["name"] == name]  # fmt: skip
    pattern = re.compile(schema["items"]["pattern"])  # one schema per repeated value
    assert pattern.search("ivo://nasa.gsfc.gcn/SWIFT#BAT 1+2 ünï")
    assert not pattern.search("ivo://a\x00b")
    reply = client.simulate_get("/apiv2/packets", query_string=f"{name}=a%00b")
    assert reply.status_code == 400
    assert reply.json["error"]["parameter"] == name


@pytest.mark.parametrize(
    ("path", "refused", "target"),
    [
        ("/apiv2/packet", "\x00", "/apiv2/packet?ivorn=a%00b"),  # was schema-valid
        ("/apiv1/packet/xml/{ivorn}", "\ufffd", "/apiv1/packet/xml/a%EF%BF%BDb"),  # was too
    ],
)
def test_the_openapi_ivorn_patterns_refuse_what_the_gateway_refuses(
    client: falcon.testing.TestClient, path: str, refused: str, target: str
) -> None:
    """apiv1 reads U+FFFD in the path as bytes that were not UTF-8: a 400, as for ``%FF``."""
    doc = client.simulate_get("/openapi.json").json
    (schema,) = [p["schema"] for p in doc["paths"][path]["get"]["parameters"]
                 if p["name"] == "ivorn"]  # fmt: skip
    pattern = re.compile(schema["pattern"])
    assert pattern.search("ivo://nasa.gsfc.gcn/SWIFT#BAT 1+2 ünï")
    assert not pattern.search(f"ivo://a{refused}b")
    path_part, _, query = target.partition("?")
    reply = client.simulate_get(path_part, query_string=query or None)
    assert (reply.status_code, reply.json["error"]["parameter"]) == (400, "ivorn")

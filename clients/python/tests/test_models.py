"""Synopses keep the values the server sent and build astropy objects only when read."""

from __future__ import annotations

from typing import Any

import pytest

from vohub.client import Synopsis
from vohub.client import models as models_module
from vohub.client.output import synopsis_json, synopsis_row

V2_ITEM: dict[str, Any] = {
    "ivorn": "ivo://nasa.gsfc.gcn/SWIFT#BAT_GRB_Pos_657426-719",
    "stream": "nasa.gsfc.gcn/SWIFT",
    "role": "observation",
    "version": "2.0",
    "received": "2015-09-15T21:44:01.999712Z",
    "author_ivorn": "ivo://nasa.gsfc.tan/gcn",
    "author_datetime": "2015-09-15T21:43:50Z",
    "positions": [{"ra": 319.6588, "dec": -34.9131, "error": 0.05, "time": "2015-09-15T21:24:37Z"}],
    "refs": [],
    "cited_by": ["ivo://nasa.gsfc.gcn/SWIFT#XRT_Position_657426-191"],
}
V1_RESULT: dict[str, Any] = {
    "voevent": {
        "ivorn": V2_ITEM["ivorn"],
        "stream": V2_ITEM["stream"],
        "role": "observation",
        "version": "2.0",
        "received": "2015-09-15T21:44:01.999712+00:00",
        "author_ivorn": "ivo://nasa.gsfc.tan/gcn",
        "author_datetime": "2015-09-15T21:43:50+00:00",
    },
    "coords": [
        {"ra": 319.6588, "dec": -34.9131, "error": 0.05, "time": "2015-09-15T21:24:37+00:00"}
    ],
    "refs": [{"ref_ivorn": "ivo://a/b#1", "cite_type": "followup", "description": None}],
    "relevant_urls": [],
}


def test_query_rows_are_made_without_building_astropy_objects(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("an astropy object was built for a plain row")

    for name in ("SkyCoord", "Angle", "Time"):
        monkeypatch.setattr(models_module, name, refuse)
    data = synopsis_json(Synopsis.from_json(V2_ITEM))
    assert data == {
        "ivorn": V2_ITEM["ivorn"],
        "stream": "nasa.gsfc.gcn/SWIFT",
        "role": "observation",
        "author_datetime": "2015-09-15T21:43:50.000Z",  # Z: UTC, not a local time
        "received": "2015-09-15T21:44:02.000Z",  # rounded, as astropy's isot rounds
        "ra": 319.6588,
        "dec": -34.9131,
        "error": 0.05,
        "refs": [],
        "cited_by": ["ivo://nasa.gsfc.gcn/SWIFT#XRT_Position_657426-191"],
    }
    assert synopsis_row(data)[-1] == 1


@pytest.mark.parametrize("obj", [V2_ITEM, V1_RESULT], ids=["apiv2", "apiv1"])
def test_astropy_values_agree_with_the_plain_ones_and_are_built_once(obj: dict[str, Any]) -> None:
    synopsis = Synopsis.from_json(obj)
    position = synopsis.positions[0]
    assert position.coord is position.coord
    assert position.coord.ra.deg == pytest.approx(position.ra)
    assert position.coord.dec.deg == pytest.approx(position.dec)
    assert position.error is not None
    assert position.error.deg == pytest.approx(0.05)
    assert position.time is not None
    assert position.time.isot == "2015-09-15T21:24:37.000"
    assert synopsis.received is synopsis.received
    assert f"{synopsis.received.isot}Z" == synopsis_json(synopsis)["received"]
    assert synopsis.author_datetime is not None
    assert f"{synopsis.author_datetime.isot}Z" == synopsis_json(synopsis)["author_datetime"]
    assert synopsis.coords == [position.coord]


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("2015-09-15T21:24:37", "2015-09-15T21:24:37Z"),
        ("2015-09-15T21:24:37.860000", "2015-09-15T21:24:37.860000Z"),
    ],
)
def test_a_positions_time_reads_the_same_from_either_api(sent: str, kept: str) -> None:
    """apiv1 writes +00:00 where apiv2 writes Z: isotime is apiv2's form either way."""
    v2_position = {**V2_ITEM["positions"][0], "time": f"{sent}Z"}
    v1_position = {**V1_RESULT["coords"][0], "time": f"{sent}+00:00"}
    v2 = Synopsis.from_json({**V2_ITEM, "positions": [v2_position]})
    v1 = Synopsis.from_json({**V1_RESULT, "coords": [v1_position]})
    assert [v2.positions[0].isotime, v1.positions[0].isotime] == [kept, kept]
    assert v1.positions == v2.positions


def test_a_packet_without_position_or_date_has_none() -> None:
    bare = {**V2_ITEM, "positions": [], "author_datetime": None}
    synopsis = Synopsis.from_json(bare)
    assert synopsis.author_datetime is None
    assert synopsis.coords == []
    data = synopsis_json(synopsis)
    assert (data["ra"], data["dec"], data["error"], data["author_datetime"]) == (None,) * 4


def test_synopses_go_in_sets_and_dicts_one_per_equal_copy() -> None:
    first, again = Synopsis.from_json(V2_ITEM), Synopsis.from_json(dict(V2_ITEM))
    assert first == again
    assert first is not again
    assert hash(first) == hash(again)
    assert {first, again} == {first}
    assert {first: "seen"}[again] == "seen"


def test_copies_of_one_packet_that_differ_stay_apart_in_a_set() -> None:
    """Equality stays field by field: hashing by IVORN only puts such copies in one bucket."""
    cited_later = {**V2_ITEM, "cited_by": [*V2_ITEM["cited_by"], "ivo://a/b#2"]}
    copies = [Synopsis.from_json(V2_ITEM), Synopsis.from_json(cited_later)]
    copies.append(Synopsis.from_json(V1_RESULT))  # apiv1 sends no cited_by: None
    assert len(set(copies)) == 3
    assert len({hash(c) for c in copies}) == 1
    assert len({c.ivorn: c for c in copies}) == 1  # one per packet: key on the IVORN


@pytest.mark.parametrize(
    ("authored", "shown"),
    [
        ("9999-12-31T23:59:59.9999Z", "9999-12-31T23:59:59.999Z"),
        ("9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59.999Z"),
        ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000Z"),
    ],
)
def test_a_date_at_either_end_of_the_calendar_is_shown(authored: str, shown: str) -> None:
    """A packet authored in the last half millisecond of year 9999 (schema-valid, archived)
    made every row of a listing that held it die with OverflowError."""
    data = synopsis_json(Synopsis.from_json({**V2_ITEM, "author_datetime": authored}))
    assert data["author_datetime"] == shown


def test_an_apiv1_synopsis_does_not_claim_that_no_packet_cites_it() -> None:
    """apiv1 sends no cited_by: [] said "cited by none" of a packet cited 28 times."""
    v1 = Synopsis.from_json(V1_RESULT)
    assert v1.cited_by is None
    data = synopsis_json(v1)
    assert data["cited_by"] is None  # null in JSON
    assert synopsis_row(data)[-1] is None  # an empty cell in the table and CSV
    assert Synopsis.from_json(V2_ITEM).cited_by == V2_ITEM["cited_by"]


@pytest.mark.parametrize(
    "item",
    [
        {**V2_ITEM, "received": "yesterday"},
        {**V2_ITEM, "received": 1442353441},
        {**V2_ITEM, "author_datetime": "2015-13-01T00:00:00Z"},
        {**V1_RESULT, "voevent": {**V1_RESULT["voevent"], "received": None}},
    ],
)
def test_a_time_that_is_no_iso_text_is_refused_where_it_is_read(item: dict[str, Any]) -> None:
    """Not later, as a traceback from the code that prints it."""
    with pytest.raises((ValueError, TypeError)):
        Synopsis.from_json(item)

"""The builder emits packets that validate against the XSD and parse back to what was put in."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.time import Time

from vohub.voevent import (
    Citation,
    Inference,
    InvalidIvorn,
    PacketBuilder,
    Reference,
    is_valid,
    make_param,
    parse,
    validate,
)

WHEN = datetime(2024, 5, 1, 12, 30, 15, 250000, tzinfo=UTC)


def full_builder() -> PacketBuilder:
    return (
        PacketBuilder("example.org/alerts", role="observation", ivorn="ivo://example.org/alerts#42")
        .author("ivo://example.org", date=WHEN, short_name="EX", contact_email="a@example.org")
        .param("snr", 12.5, unit="sigma", ucd="stat.snr")
        .param("count", 7)
        .param(make_param("flag", True, description="a flag"))
        .group("photometry", [make_param("mag", 17.25, unit="mag", ucd="phot.mag")], type="phot")
        .description("An example alert")
        .position(SkyCoord(150.125 * u.deg, -30.5 * u.deg), error=3 * u.arcsec, time=Time(WHEN))
        .how(["a telescope"], [Reference("https://example.org/telescope", type="url")])
        .why(
            importance=0.5,
            inferences=[Inference(0.9, "identified", ("SN 2024x",), ("process.variation",))],
        )
        .cite("ivo://example.org/alerts#41", "supersedes", "replaces the preliminary alert")
    )


def test_built_packet_validates_and_parses_back_equal() -> None:
    builder = full_builder()
    data = builder.to_bytes()
    validate(data)
    built = builder.build()
    assert parse(data, strict=True) == built
    assert built.problems == ()
    assert (built.author_ivorn, built.author_datetime) == (
        "ivo://example.org",
        WHEN.replace(microsecond=250000),
    )
    assert built.author is not None
    assert built.author.short_name == "EX"
    assert [(p.name, p.value, p.datatype) for p in built.params] == [
        ("snr", "12.5", "float"),
        ("count", "7", "int"),
        ("flag", "true", "string"),
    ]
    assert built.params[2].description == "a flag"
    assert built.group("photometry").type == "phot"  # type: ignore[union-attr]
    pos = built.positions[0]
    assert (pos.ra, pos.dec, pos.coord_system) == (150.125, -30.5, "UTC-ICRS-GEO")
    assert pos.error == pytest.approx(3 / 3600)
    assert pos.time == WHEN
    assert built.citations == (
        Citation("ivo://example.org/alerts#41", "supersedes", "replaces the preliminary alert"),
    )
    assert built.why is not None
    assert built.why.inferences[0].names == ("SN 2024x",)
    assert built.how is not None
    assert built.how.references[0].uri == "https://example.org/telescope"


def test_fk5_skycoord_and_degrees() -> None:
    coord = SkyCoord(10 * u.deg, 20 * u.deg, frame="fk5", equinox="J2000")
    packet = (
        PacketBuilder("example.org/a", ivorn="ivo://example.org/a#1")
        .position(coord, time=WHEN)
        .build()
    )
    assert (packet.position.coord_system, packet.position.ra) == ("UTC-FK5-GEO", 10.0)  # type: ignore[union-attr]
    plain = (
        PacketBuilder("example.org/a", ivorn="ivo://example.org/a#2")
        .position(1.5, -2.5, error=0.1)
        .build()
    )
    assert (plain.position.ra, plain.position.dec, plain.position.error) == (1.5, -2.5, 0.1)  # type: ignore[union-attr]


def test_galactic_skycoord_is_converted_to_icrs() -> None:
    coord = SkyCoord(l=0 * u.deg, b=0 * u.deg, frame="galactic")
    packet = PacketBuilder("example.org/a", ivorn="ivo://example.org/a#3").position(coord).build()
    assert packet.position.ra == pytest.approx(266.40499, abs=1e-4)  # type: ignore[union-attr]
    assert packet.position.dec == pytest.approx(-28.93617, abs=1e-4)  # type: ignore[union-attr]


def test_stamped_ivorns_are_unique_and_valid() -> None:
    ivorns = {PacketBuilder("example.org/alerts", role="test").build().ivorn for _ in range(50)}
    assert len(ivorns) == 50
    assert all(iv.startswith("ivo://example.org/alerts#") for iv in ivorns)


def test_two_citations_share_the_description() -> None:
    b = PacketBuilder("example.org/a", ivorn="ivo://example.org/a#9").cite("ivo://example.org/a#1")
    packet = b.cite("ivo://example.org/a#2", "retraction", "both wrong").build()
    assert [(c.ivorn, c.cite, c.description) for c in packet.citations] == [
        ("ivo://example.org/a#1", "followup", "both wrong"),
        ("ivo://example.org/a#2", "retraction", "both wrong"),
    ]


def test_builder_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match=r"role 'bogus'"):
        PacketBuilder("example.org/a", role="bogus")
    with pytest.raises(InvalidIvorn, match=r"no #local_id"):
        PacketBuilder("example.org/a", ivorn="ivo://example.org/a")
    with pytest.raises(ValueError, match=r"cite type 'likes'"):
        PacketBuilder("example.org/a").cite("ivo://example.org/a#1", "likes")
    with pytest.raises(ValueError, match=r"naive datetime"):
        PacketBuilder("example.org/a").author("ivo://example.org", date=datetime(2020, 1, 1))
    with pytest.raises(TypeError, match=r"unknown Author field"):
        PacketBuilder("example.org/a").author(nickname="x")
    with pytest.raises(ValueError, match=r"group 'g' has no params"):
        PacketBuilder("example.org/a").group("g", [])


def test_minimal_packet_is_valid() -> None:
    assert is_valid(PacketBuilder("example.org/a", role="test").to_bytes())

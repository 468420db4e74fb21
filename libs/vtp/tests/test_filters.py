"""Comet-semantics XPath filters on real packets: no namespace map, XPath truthiness, ORed."""

from __future__ import annotations

import pytest
from lxml import etree

from vohub.vtp.errors import InvalidFilter
from vohub.vtp.filters import compile_filter, compile_filters, compile_filters_lenient

PACKET_61 = "//Param[@name='Packet_Type' and @value='61']"
NOT_TEST = "/*[local-name()='VOEvent' and @role!='test']"


@pytest.fixture
def bat(bat_packet: bytes) -> etree._Element:
    return etree.fromstring(bat_packet)


@pytest.fixture
def gaia(gaia_packet: bytes) -> etree._Element:
    return etree.fromstring(gaia_packet)


def test_packet_type_filter_on_real_packets(bat: etree._Element, gaia: etree._Element) -> None:
    f = compile_filter(PACKET_61)
    assert f.matches(bat)
    assert not f.matches(gaia)


@pytest.mark.parametrize(
    ("expression", "bat_passes"),
    [
        ("//Who/AuthorIVORN", True),  # non-empty node-set
        ("//Nothing", False),  # empty node-set
        ("count(//Param) > 5", True),  # boolean
        ("count(//Nothing)", False),  # zero
        ("count(//Param)", True),  # non-zero number
        ("number('x')", False),  # NaN is false in XPath
        ("string(//Who/AuthorIVORN)", True),  # non-empty string
        ("string(//Nothing)", False),  # empty string
        ("//@ivorn", True),  # attribute node-set
        ("//voe:VOEvent", False),  # compiles, fails at evaluation: no match
        ("/voe:VOEvent[@role='observation']", False),
        (NOT_TEST, True),
    ],
)
def test_xpath_truthiness(bat: etree._Element, expression: str, bat_passes: bool) -> None:
    assert compile_filter(expression).matches(bat) is bat_passes


def test_filters_are_ored(bat: etree._Element, gaia: etree._Element) -> None:
    either = compile_filters([PACKET_61, "//Param[@name='alert_name']"])
    assert either.matches(bat)
    assert compile_filters([PACKET_61, "//Nothing"]).matches(bat)
    assert not compile_filters(["//Nothing", "//Nope"]).matches(gaia)


def test_empty_filter_set_passes_everything(gaia: etree._Element) -> None:
    assert compile_filters([]).matches(gaia)


@pytest.mark.parametrize("bad", ["//[bad", "", "1 +", "@@", "//Param[@name='x'"])
def test_invalid_filter_names_the_expression(bad: str) -> None:
    with pytest.raises(InvalidFilter) as caught:
        compile_filters(["//ok", bad])
    assert caught.value.expression == bad
    assert repr(bad) in str(caught.value)


def test_lenient_compile_keeps_good_and_reports_bad() -> None:
    kept, dropped = compile_filters_lenient(["//[bad", PACKET_61, "1 +"], peer="h:1")
    assert kept.expressions == (PACKET_61,)
    assert [e.expression for e in dropped] == ["//[bad", "1 +"]
    assert all(e.peer == "h:1" for e in dropped)


@pytest.mark.parametrize("expression", ["count(", "foo(1)"])
def test_filter_that_compiles_but_cannot_evaluate_matches_nothing(
    bat: etree._Element, expression: str
) -> None:
    # lxml compiles these; evaluation fails, which Comet (and we) count as no match.
    assert not compile_filter(expression).matches(bat)

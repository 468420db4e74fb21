"""The compiled readers: really compiled, tied to their lxml, and reading XML as lxml does."""

from __future__ import annotations

import doctest
import subprocess
import sys
from importlib.machinery import EXTENSION_SUFFIXES
from types import ModuleType

import pytest

from vohub.voevent import _walk, _what, _wherewhen, parse

HEAD = (
    '<voe:VOEvent xmlns:voe="http://www.ivoa.net/xml/VOEvent/v2.0" version="2.0"'
    ' ivorn="ivo://example.org/rules#1" role="test">'
)


def packet(body: str, prolog: str = "") -> bytes:
    return (prolog + HEAD + body + "</voe:VOEvent>").encode()


@pytest.mark.parametrize("module", [_walk, _what, _wherewhen])
def test_readers_are_extension_modules(module: ModuleType) -> None:
    assert str(module.__file__).endswith(tuple(EXTENSION_SUFFIXES))


@pytest.mark.parametrize("module", [_walk, _wherewhen])
def test_docstring_examples_of_compiled_modules(module: ModuleType) -> None:
    # pytest's --doctest-modules only collects .py files.
    result = doctest.testmod(module)
    assert result.attempted >= 3
    assert result.failed == 0


def test_refuses_an_lxml_it_was_not_built_against() -> None:
    code = "import lxml.etree; lxml.etree.__version__ = '0.0.0'; import vohub.voevent"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert "built against lxml 6.1.3, but lxml 0.0.0 is installed" in run.stderr


def test_dtd_attribute_defaults_are_read_like_lxml_get() -> None:
    prolog = '<!DOCTYPE voe:VOEvent [<!ATTLIST Param unit CDATA "deg">]>'
    p = parse(packet('<What><Param name="a"/><Param name="b" unit="s"/></What>', prolog))
    assert [(q.name, q.unit) for q in p.params] == [("a", "deg"), ("b", "s")]


def test_attribute_references_and_empty_values() -> None:
    p = parse(packet('<What><Param name="a&amp;b&#65;&lt;" value="" ucd="ü"/></What>'))
    assert (p.params[0].name, p.params[0].value, p.params[0].ucd) == ("a&bA<", "", "ü")


def test_namespaced_params_are_read_but_not_namespaced_attributes() -> None:
    body = (
        '<What xmlns:x="urn:x"><x:Param name="p" value="1"/>'
        '<Param x:name="hidden" value="2"/></What>'
    )
    p = parse(packet(body))
    assert [(q.name, q.value) for q in p.params] == [("p", "1"), (None, "2")]


def test_value_and_description_children() -> None:
    body = (
        '<What><Param name="v"><Value> 7 </Value><Value>8</Value>'
        "<Description><![CDATA[ first ]]></Description><Description> last </Description>"
        '</Param><Param name="w" value="attr"><Value>child</Value></Param></What>'
    )
    v, w = parse(packet(body)).params
    assert (v.value, v.description) == (" 7 ", "last")
    assert w.value == "attr"


def test_what_problems_come_by_kind_whatever_the_document_order() -> None:
    body = (
        '<What><Reference/><Table><Field name="f" datatype="int"/></Table>'
        '<Group name="g"><Param name="gp" datatype="int"/></Group>'
        '<Param name="p" datatype="float"/></What>'
    )
    assert parse(packet(body)).problems == (
        "Param 'p': attribute 'datatype' should be spelt 'dataType'",
        "Param 'gp': attribute 'datatype' should be spelt 'dataType'",
        "Param 'f': attribute 'datatype' should be spelt 'dataType'",
        "<Reference> without a uri attribute",
    )


def test_root_children_namespaced_or_unknown_are_reported_in_order() -> None:
    body = '<x:Who xmlns:x="urn:x"><x:AuthorIVORN>ivo://a/b</x:AuthorIVORN></x:Who><Extra/>'
    p = parse(packet(body))
    assert p.author_ivorn == "ivo://a/b"
    assert p.problems == (
        "<Who> is namespaced; VOEvent children are unqualified",
        "unexpected element <Extra> under <VOEvent>",
    )


def test_entity_reference_nodes_are_not_children() -> None:
    # Undeclared references survive parsing when an (unloaded) external DTD is named;
    # only element nodes count as children, as with lxml's tag filters.
    prolog = '<!DOCTYPE voe:VOEvent SYSTEM "voevent.dtd">'
    body = '&a;<What><Param name="p">&b;<Value>v</Value></Param></What>'
    p = parse(packet(body, prolog))
    assert [(q.name, q.value) for q in p.params] == [("p", "v")]
    assert p.problems == ()

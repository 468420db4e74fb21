"""XPath subscription filters with Comet's semantics (a Comet extension to VTP).

A subscriber sends filters in its ``authenticate`` reply. Each is XPath 1.0, compiled by lxml and
evaluated on the VOEvent *root element* with **no namespace map**: VOEvent children are
un-namespaced, so ``//Param[@name='Packet_Type' and @value='61']`` works, while a prefixed test
such as ``//voe:VOEvent`` compiles but fails at evaluation. A filter passes if its result is true
by XPath rules: a non-empty node-set, ``true()``, a non-zero number other than NaN, a non-empty
string. Several filters are ORed, and an empty list passes everything.

Edge cases, as Comet: an evaluation error counts as *no match*; a filter that does not compile
raises :class:`~vohub.vtp.errors.InvalidFilter` here, and :func:`compile_filters_lenient` drops
it the way Comet's broker does (which can widen a subscription to everything). One difference:
Comet uses Python truthiness, so a NaN result passes there and fails here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from lxml import etree

from vohub.vtp.errors import InvalidFilter


@dataclass(frozen=True, slots=True)
class Filter:
    """One compiled XPath filter and the expression it came from."""

    expression: str
    xpath: etree.XPath = field(compare=False, repr=False)

    def matches(self, root: etree._Element) -> bool:
        """Whether the filter passes for a VOEvent root; an evaluation error is no match.

        Examples
        --------
        >>> root = etree.fromstring(b'<VOEvent role="test"><Why/></VOEvent>')
        >>> compile_filter("//Why").matches(root), compile_filter("count(//How)").matches(root)
        (True, False)
        """
        try:
            result = self.xpath(root)
        except etree.XPathError:
            return False
        return xpath_truth(result)


@dataclass(frozen=True, slots=True)
class FilterSet:
    """Filters ORed together; an empty set passes every event."""

    filters: tuple[Filter, ...] = ()

    @property
    def expressions(self) -> tuple[str, ...]:
        """The source expressions, in order.

        >>> compile_filters(["//Why", "//How"]).expressions
        ('//Why', '//How')
        """
        return tuple(f.expression for f in self.filters)

    def matches(self, root: etree._Element) -> bool:
        """Whether an event with this root passes (any filter passes, or there are none).

        Examples
        --------
        >>> root = etree.fromstring(b'<VOEvent role="test"/>')
        >>> FilterSet().matches(root)
        True
        >>> compile_filters(["/*[@role='observation']", "//Nope"]).matches(root)
        False
        """
        return not self.filters or any(f.matches(root) for f in self.filters)


def xpath_truth(value: object) -> bool:
    """XPath 1.0 ``boolean()`` of an lxml XPath result.

    Examples
    --------
    >>> [xpath_truth(v) for v in ([], [0], True, 0.0, float("nan"), 2.0, "", "x")]
    [False, True, True, False, False, True, False, True]
    """
    if isinstance(value, float):
        return value != 0.0 and not math.isnan(value)
    return bool(value)


def compile_filter(expression: str) -> Filter:
    """Compile one XPath filter.

    Parameters
    ----------
    expression
        XPath 1.0 text.

    Raises
    ------
    InvalidFilter
        If lxml cannot compile it; the error names the expression.

    Examples
    --------
    >>> compile_filter("//Param[@name='Packet_Type' and @value='61']").expression
    "//Param[@name='Packet_Type' and @value='61']"
    >>> compile_filter("//[bad")
    Traceback (most recent call last):
    ...
    vohub.vtp.errors.InvalidFilter: invalid XPath filter '//[bad': Invalid expression
    """
    try:
        return Filter(expression, etree.XPath(expression))
    except etree.XPathSyntaxError as exc:
        raise InvalidFilter(expression, str(exc)) from exc


def compile_filters(expressions: Iterable[str]) -> FilterSet:
    """Compile a filter list, failing on the first invalid expression.

    Use this for filters we send or configure ourselves.

    Raises
    ------
    InvalidFilter
        Naming the first expression that does not compile.

    Examples
    --------
    >>> compile_filters(["//Why", "//How"]).expressions
    ('//Why', '//How')
    """
    return FilterSet(tuple(compile_filter(e) for e in expressions))


def compile_filters_lenient(
    expressions: Iterable[str], *, peer: str | None = None
) -> tuple[FilterSet, tuple[InvalidFilter, ...]]:
    """Compile a filter list the way Comet's broker does: invalid ones are dropped and reported.

    Use this for filters a subscriber sends us. If every filter is invalid the set is empty and
    passes everything, which is what Comet does.

    Returns
    -------
    tuple
        The valid filters, and one :class:`~vohub.vtp.errors.InvalidFilter` per dropped one.

    Examples
    --------
    >>> kept, dropped = compile_filters_lenient(["//Why", "//[bad"])
    >>> kept.expressions, [e.expression for e in dropped]
    (('//Why',), ['//[bad'])
    """
    kept: list[Filter] = []
    dropped: list[InvalidFilter] = []
    for expression in expressions:
        try:
            kept.append(compile_filter(expression))
        except InvalidFilter as exc:
            dropped.append(InvalidFilter(expression, exc.reason, peer=peer))
    return FilterSet(tuple(kept)), tuple(dropped)

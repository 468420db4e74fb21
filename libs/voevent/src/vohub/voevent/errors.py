"""The exceptions of :mod:`vohub.voevent`: one type per way a packet can be refused.

Every error names the packet at fault (``source``: a file name, an IVORN or ``<bytes>``)
and carries ``reason``, a one-line text fit for a VTP ``nak`` or a log line.
"""

from __future__ import annotations


class VOEventError(Exception):
    """Base of every error this package raises; never raised itself.

    >>> str(MalformedXML("<bytes>", "mismatched tag", line=3))
    '<bytes>: malformed XML: mismatched tag (line 3)'
    """

    kind = "invalid VOEvent"

    def __init__(self, source: str, reason: str, *, line: int | None = None) -> None:
        if type(self) is VOEventError:
            raise TypeError("VOEventError is abstract; raise one of its subclasses")
        self.source = source
        self.reason = reason
        self.line = line
        where = f" (line {line})" if line is not None else ""
        super().__init__(f"{source}: {self.kind}: {reason}{where}")

    @property
    def nak_reason(self) -> str:
        """The text a broker puts in a ``nak`` for this packet.

        >>> MalformedXML("<bytes>", "mismatched tag", line=3).nak_reason
        'malformed XML: mismatched tag, line 3'
        """
        where = f", line {self.line}" if self.line is not None else ""
        return f"{self.kind}: {self.reason}{where}"


class PacketTooLarge(VOEventError):
    """The document is larger than the parser's size cap; ``size`` is its size in bytes, or
    ``None`` when unknown (a pipe is not read to its end).

    >>> PacketTooLarge("big.xml", "2000000 bytes, over the 1048576-byte cap", size=2_000_000).size
    2000000
    """

    kind = "packet too large"

    def __init__(self, source: str, reason: str, *, size: int | None = None) -> None:
        super().__init__(source, reason)
        self.size = size


class ForbiddenXML(VOEventError):
    """The document uses a DTD, entity declarations or other constructs we refuse to expand."""

    kind = "forbidden XML construct"


class MalformedXML(VOEventError):
    """The bytes are not well-formed XML (includes truncation and excessive nesting)."""

    kind = "malformed XML"


class NotAVOEvent(VOEventError):
    """Well-formed XML whose root is not a VOEvent (wrong element, namespace or missing IVORN)."""

    kind = "not a VOEvent"


class SchemaViolation(VOEventError):
    """A VOEvent that does not validate against the XSD of its version."""

    kind = "schema violation"


class InvalidIvorn(VOEventError):
    """An IVORN that is not an ``ivo://authority/path#local_id`` identifier.

    ``ivorn`` is the text refused; the ``nak`` reason quotes it, whatever ``source`` is.

    >>> InvalidIvorn("gcn.xml", "no #local_id after the stream", ivorn="ivo://a/b").nak_reason
    "invalid IVORN: no #local_id after the stream: 'ivo://a/b'"
    """

    kind = "invalid IVORN"

    def __init__(self, source: str, reason: str, *, ivorn: str) -> None:
        super().__init__(source, reason)
        self.ivorn = ivorn

    @property
    def nak_reason(self) -> str:
        """The text a broker puts in a ``nak``: the reason and the IVORN refused."""
        return f"{self.kind}: {self.reason}: {self.ivorn!r}"


class UnsupportedVersion(VOEventError):
    """A VOEvent version we hold no schema for (strict validation only)."""

    kind = "unsupported VOEvent version"


class UnreadableSource(VOEventError):
    """The file holding a packet could not be read (missing, a directory, no permission)."""

    kind = "cannot read"

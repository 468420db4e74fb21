"""Read, check and mint IVORNs (``ivo://authority/resource#local_id``).

The grammar is that of IVOA Identifiers 2.0: an authority of at least three characters
starting with a letter or digit, an optional resource key of RFC 3986 path characters
without ``//``, ``/./``, ``/../`` or a trailing slash (the IVOA's own 2.1 example uses
``:`` in it), and a fragment holding the event's local id.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from vohub.voevent.errors import InvalidIvorn

_IVORN_RE = re.compile(
    r"ivo://(?P<authority>[A-Za-z0-9][\w\-.~*'()]{2,})"
    r"(?P<resource>/[\w\-.~!$&'()*+,;=:@%/]*)?"
    r"(?:#(?P<local_id>[\w\-.~*'()+=/%!$&,;:@?]*))?\Z"
)
#: ``strftime`` pattern of a stamp's time part, as fourpiskytools writes it.
STAMP_TIME_FORMAT = "%y%m%d-%H%M.%S"


@dataclass(frozen=True, slots=True)
class Ivorn:
    """The parts of an IVORN.

    >>> parse_ivorn("ivo://nasa.gsfc.gcn/SWIFT#BAT_GRB_Pos_532871-729").stream
    'nasa.gsfc.gcn/SWIFT'
    """

    authority: str
    resource: str
    local_id: str | None

    @property
    def stream(self) -> str:
        """Authority plus resource key, without ``ivo://``: voeventdb's ``stream``.

        >>> Ivorn("gaia.cam.uk", "/alerts", "Gaia16aac").stream
        'gaia.cam.uk/alerts'
        """
        return self.authority + self.resource

    def __str__(self) -> str:
        tail = f"#{self.local_id}" if self.local_id is not None else ""
        return f"ivo://{self.stream}{tail}"


def parse_ivorn(ivorn: str, *, require_local_id: bool = False, source: str | None = None) -> Ivorn:
    """Split an IVORN into authority, resource key and local id.

    Parameters
    ----------
    ivorn : str
        The identifier.
    require_local_id : bool
        Refuse an IVORN without a non-empty ``#local_id`` (as a broker does).
    source : str, optional
        Named in the error message instead of the IVORN itself.

    Raises
    ------
    InvalidIvorn
        The text is not an IVORN.

    Examples
    --------
    >>> parse_ivorn("ivo://gaia.cam.uk/alerts#Gaia16aac")
    Ivorn(authority='gaia.cam.uk', resource='/alerts', local_id='Gaia16aac')
    >>> parse_ivorn("http://example.org/x#1")
    Traceback (most recent call last):
    ...
    vohub.voevent.errors.InvalidIvorn: http://example.org/x#1: invalid IVORN: not of the form ivo://authority/resource#local_id
    """
    name = source or ivorn
    match = _IVORN_RE.match(ivorn)
    if match is None:
        raise InvalidIvorn(name, "not of the form ivo://authority/resource#local_id", ivorn=ivorn)
    resource = match["resource"] or ""
    if any(bad in resource + "/" for bad in ("//", "/./", "/../")) or resource.endswith("/"):
        problem = f"resource key {resource!r} has an empty, '.' or '..' segment"
        raise InvalidIvorn(name, problem, ivorn=ivorn)
    local_id = match["local_id"]
    if require_local_id and not local_id:
        raise InvalidIvorn(name, "no #local_id after the stream", ivorn=ivorn)
    return Ivorn(match["authority"], resource, local_id)


def is_valid_ivorn(ivorn: str, *, require_local_id: bool = True) -> bool:
    """True when ``ivorn`` parses (by default also requiring a local id).

    >>> is_valid_ivorn("ivo://voevent.4pisky.org/TEST#1"), is_valid_ivorn("ivo://a/b#c")
    (True, False)
    """
    try:
        parse_ivorn(ivorn, require_local_id=require_local_id)
    except InvalidIvorn:
        return False
    return True


def stream_of(ivorn: str) -> str:
    """The stream as voeventdb stores it: the IVORN before ``#`` without ``ivo://``.

    Works on any text, valid IVORN or not. The scheme is dropped in any case (``IVO://``), as
    voeventdb's ingest and the query filters drop it; text without the scheme is kept whole.

    >>> stream_of("ivo://nasa.gsfc.gcn/SWIFT#BAT_1"), stream_of("IVO://a.b.c/d")
    ('nasa.gsfc.gcn/SWIFT', 'a.b.c/d')
    """
    head = ivorn.split("#", 1)[0]
    return head[6:] if head[:6].lower() == "ivo://" else head


def stream_id(now: datetime | None = None) -> str:
    """A fresh local id: UTC time ``%y%m%d-%H%M.%S``, ``_`` and 12 random hex digits.

    The 48 random bits make ids unique across processes and machines writing the same
    stream in the same second (fourpiskytools used clock bits of ``uuid1``, unique only
    per machine).

    >>> sid = stream_id(datetime(2014, 11, 13, 21, 18, 55, tzinfo=UTC))
    >>> sid[:15], len(sid)
    ('141113-2118.55_', 27)
    """
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{moment.strftime(STAMP_TIME_FORMAT)}_{secrets.token_hex(6)}"


def stamp(stream: str, now: datetime | None = None) -> str:
    """A fresh unique IVORN for ``stream`` (``authority/path``, with or without ``ivo://``).

    Raises
    ------
    InvalidIvorn
        ``stream`` is not a valid authority/resource.

    Examples
    --------
    >>> iv = stamp("voevent.4pisky.org/TEST", datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC))
    >>> iv.rpartition("_")[0]
    'ivo://voevent.4pisky.org/TEST#200102-0304.05'
    >>> stamp("voevent.4pisky.org/TEST") != stamp("voevent.4pisky.org/TEST")
    True
    """
    base = stream if stream.startswith("ivo://") else f"ivo://{stream}"
    if "#" in base:
        raise InvalidIvorn(stream, "a stream must not contain '#'", ivorn=base)
    parse_ivorn(base, source=stream)
    return f"{base}#{stream_id(now)}"

"""apiv1's ``url`` field: the request URL rebuilt the way voeventdb.server (Werkzeug 1.0) does.

voeventdb gives Werkzeug's ``request.url``: an IRI rebuilt from the request, not the URL as
sent. The rule, for the path and for the query string:

1. Path: the percent-decoded path, its leading slashes (``%2F`` too) collapsed to one.
   voeventdb's server (gunicorn) decodes the raw path as text, so a raw non-ASCII byte stands
   for the character of that code point (``\\xff`` as ``ÿ``).
   Query: the raw query string.
2. Quote: every ASCII byte outside a safe set becomes ``%XX`` (upper-case hex). Unreserved
   characters (``A-Z a-z 0-9 - . _ ~``) are always safe; the path adds ``/ :``, the query
   ``: & % = + $ ! * ' ( ) ,``. So ``%`` stays as sent in the query only.
3. Unquote to IRI: an escape of an unreserved or a non-ASCII byte is decoded; an escape of
   any other ASCII byte stays as written (hex case included).
4. The bytes are read as UTF-8; a byte that is not part of valid UTF-8 becomes ``%XX``.

An empty query string adds no ``?``. The scheme and host (:func:`origin`) are the ``Host``
header's, as Werkzeug reads it: see there.
"""

from __future__ import annotations

import functools
import re
from urllib.parse import unquote_to_bytes

#: The port a scheme's URL leaves out (Werkzeug drops it from the Host header as written).
_DEFAULT_PORT = {"http": ":80", "https": ":443"}

#: The characters of each part that step 2 leaves, as a regular expression's character class.
_UNRESERVED = r"A-Za-z0-9\-._~"
_PATH_SAFE = _UNRESERVED + "/:"
_QUERY_SAFE = _UNRESERVED + ":&=+$!*'(),"  # and "%", which is not plain

#: Text that every step leaves as it is: the common case, answered without any work.
_PLAIN_PATH = re.compile(f"[{_PATH_SAFE}]*")
_PLAIN_QUERY = re.compile(f"[{_QUERY_SAFE}]*".encode())
#: Step 2's bytes to quote: ASCII and not safe.
_QUOTED_IN_PATH = re.compile(rf"[^{_PATH_SAFE}\x80-\xff]".encode("latin-1"))
_QUOTED_IN_QUERY = re.compile(rf"[^{_QUERY_SAFE}%\x80-\xff]".encode("latin-1"))
_ESCAPE = re.compile(rb"%[0-9A-Fa-f]{2}")
_UNRESERVED_BYTE = re.compile(f"[{_UNRESERVED}]".encode())
#: A byte the UTF-8 decoder could not read, as ``surrogateescape`` keeps it.
_STRAY_BYTE = re.compile("[\udc80-\udcff]")


def _percent(match: re.Match[bytes]) -> bytes:
    return b"%%%02X" % match[0][0]


def _unpercent(match: re.Match[bytes]) -> bytes:
    """Step 3 for one escape: its byte if unreserved or non-ASCII, else the escape as written."""
    byte = bytes((int(match[0][1:], 16),))
    return byte if byte >= b"\x80" or _UNRESERVED_BYTE.match(byte) else match[0]


def _stray_byte(match: re.Match[str]) -> str:
    return f"%{ord(match[0]) - 0xDC00:02X}"


def _to_iri(data: bytes, quoted: re.Pattern[bytes]) -> str:
    """Steps 2 to 4 on the bytes of the path or of the query string."""
    unquoted = _ESCAPE.sub(_unpercent, quoted.sub(_percent, data))
    return _STRAY_BYTE.sub(_stray_byte, unquoted.decode("utf-8", "surrogateescape"))


def path_and_query(raw_path: str, query: bytes) -> str:
    """The path and query of voeventdb's ``url`` for a request target as sent.

    ``raw_path`` is the path not percent-decoded (its bytes read as latin-1); ``query`` is the
    raw query string.

    >>> path_and_query("/apiv1/count", b"role=test&role=utility")
    '/apiv1/count?role=test&role=utility'
    >>> path_and_query("/apiv1/packet/synopsis/ivo%3A%2F%2Fnasa.gsfc.gcn%2FSWIFT%23x", b"")
    '/apiv1/packet/synopsis/ivo://nasa.gsfc.gcn/SWIFT%23x'
    >>> path_and_query("//apiv1/list/ivorn", b"ivorn_prefix=ivo://ex%2forg&x=%C3%BCn%ff+%41")
    '/apiv1/list/ivorn?ivorn_prefix=ivo:%2F%2Fex%2forg&x=ün%FF+A'
    >>> path_and_query("/apiv1/packet/synopsis/a+b%25%ff", b"")
    '/apiv1/packet/synopsis/a%2Bb%25%FF'
    """
    if _PLAIN_PATH.fullmatch(raw_path):
        path = "/" + raw_path.lstrip("/")
    else:
        path = "/" + _to_iri(unquote_to_bytes(raw_path).lstrip(b"/"), _QUOTED_IN_PATH)
    if not query:
        return path
    if _PLAIN_QUERY.fullmatch(query):
        return f"{path}?{query.decode('ascii')}"
    return f"{path}?{_to_iri(query, _QUOTED_IN_QUERY)}"


@functools.lru_cache(maxsize=256)  # a few hosts, asked on every apiv1 request
def origin(scheme: str, netloc: str) -> str:
    """The ``scheme://host[:port]`` of voeventdb's ``url`` for the ``Host`` header ``netloc``.

    As Werkzeug 1.0 rebuilds it: the scheme's default port, written as such, is dropped; the
    port is then read as a number (written back as one, or left out when it is not a port);
    and each punycode label of the host is decoded (IDNA). User information before the last
    ``@`` is kept as sent, unless empty.

    >>> origin("http", "example.org:80"), origin("https", "example.org:443")
    ('http://example.org', 'https://example.org')
    >>> origin("http", "xn--bcher-kva.example:0080"), origin("http", "u@[::1]:8080")
    ('http://bücher.example:80', 'http://u@[::1]:8080')
    """
    user, _, netloc = netloc.rpartition("@")
    default = _DEFAULT_PORT.get(scheme)
    if default is not None and netloc.endswith(default):
        netloc = netloc[: -len(default)]
    if netloc.startswith("[") and "]" in netloc:  # an IPv6 address
        end = netloc.index("]")
        host, rest = netloc[1:end], netloc[end + 1 :]
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port_text = netloc.partition(":")
    host = ".".join(map(_idna_label, host.split(".")))
    if ":" in host:
        host = f"[{host}]"
    try:
        port: int | None = int(port_text)
    except ValueError:
        port = None
    if user:
        host = f"{user}@{host}"
    if port is None or not 0 <= port <= 65535:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def _idna_label(label: str) -> str:
    """One label of the host: decoded if it is punycode (``xn--``), else as it is."""
    try:
        return label.encode("ascii").decode("idna")
    except UnicodeError:
        return label

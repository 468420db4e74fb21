"""apiv1's ``url``: the request URL as voeventdb.server 1.3.4 gives it, not as it was sent."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

import pytest

from vohub.gateway.url_v1 import path_and_query

#: (request target as sent, ``url`` voeventdb.server 1.3.4 gives for it under gunicorn).
VOEVENTDB_URLS = [
    ("/apiv1/count?role=test&role=utility", "/apiv1/count?role=test&role=utility"),
    ("/apiv1/count?ivorn_contains=%C3%BCn%C3%AF", "/apiv1/count?ivorn_contains=ünï"),
    ("/apiv1/count?ivorn_contains=%c3%bcn%c3%af", "/apiv1/count?ivorn_contains=ünï"),
    (
        "/apiv1/count?ivorn_prefix=ivo://nasa.gsfc.gcn/SWIFT%23XRT",
        "/apiv1/count?ivorn_prefix=ivo:%2F%2Fnasa.gsfc.gcn%2FSWIFT%23XRT",
    ),
    (
        "/apiv1/count?ivorn_prefix=ivo%3A%2F%2Fnasa.gsfc.gcn%2fSWIFT%23XRT",
        "/apiv1/count?ivorn_prefix=ivo%3A%2F%2Fnasa.gsfc.gcn%2fSWIFT%23XRT",
    ),
    ("/apiv1/count?ivorn_contains=a+b%20c%2Bd", "/apiv1/count?ivorn_contains=a+b%20c%2Bd"),
    ("/apiv1/count?order=%41%7e%2d%5F%2e", "/apiv1/count?order=A~-_."),
    ("/apiv1/count?order=;@[]?/$!*'(),:", "/apiv1/count?order=%3B%40%5B%5D%3F%2F$!*'(),:"),
    ('/apiv1/count?order="<>\\^`{|}', "/apiv1/count?order=%22%3C%3E%5C%5E%60%7B%7C%7D"),
    ("/apiv1/count?order=%F0%9F%98%80%E2%82%AC", "/apiv1/count?order=😀€"),
    (
        "/apiv1/packet/synopsis/ivo%3A%2F%2Fnasa.gsfc.gcn%2FSWIFT%23XRT_Pos_655721-326",
        "/apiv1/packet/synopsis/ivo://nasa.gsfc.gcn/SWIFT%23XRT_Pos_655721-326",
    ),
    (
        "/apiv1/packet/synopsis/ivo://nasa.gsfc.gcn/SWIFT%23XRT_Pos_655721-326",
        "/apiv1/packet/synopsis/ivo://nasa.gsfc.gcn/SWIFT%23XRT_Pos_655721-326",
    ),
    ("/apiv1/packet/synopsis/ivo%3a%2f%2fex.org%2fa", "/apiv1/packet/synopsis/ivo://ex.org/a"),
    (
        "/apiv1/packet/synopsis/ivo%3A%2F%2Fex.org%2Fa+b%20c%2Bd",
        "/apiv1/packet/synopsis/ivo://ex.org/a%2Bb%20c%2Bd",
    ),
    (
        "/apiv1/packet/synopsis/ivo%3A%2F%2Fex.org%2F%C3%BCn%C3%AF",
        "/apiv1/packet/synopsis/ivo://ex.org/ünï",
    ),
    (
        "/apiv1/packet/synopsis/ivo%3A%2F%2Fex.org%2F;@$!*'(),=&%7E%41%25",
        "/apiv1/packet/synopsis/ivo://ex.org/%3B%40%24%21%2A%27%28%29%2C%3D%26~A%25",
    ),
    (
        "//apiv1/packet/synopsis/ivo%3A%2F%2Fex.org%2Fa",
        "/apiv1/packet/synopsis/ivo://ex.org/a",
    ),
    (
        "/apiv1/packet/synopsis/ivo%3A%2F%2Fex.org%2Fa%zz%4%",
        "/apiv1/packet/synopsis/ivo://ex.org/a%25zz%254%25",
    ),
    (
        "/apiv1/packet/synopsis/ivo%3A%2F%2Fex.org%2Fa%3Fb%3fc?order=x",
        "/apiv1/packet/synopsis/ivo://ex.org/a%3Fb%3Fc?order=x",
    ),
]


@pytest.mark.parametrize(("target", "url"), VOEVENTDB_URLS)
def test_url_is_rebuilt_as_voeventdb_does(
    client: Any, archive: Any, xrt: Any, target: str, url: str
) -> None:
    _, found, ivorn = target.partition("/packet/synopsis/")
    if found:
        archive.packets[unquote_plus(ivorn.partition("?")[0])] = xrt
    r = client.simulate_get(target)
    assert r.status_code == 200, r.text
    assert r.json["url"] == "http://falconframework.org" + url


#: Targets the gateway refuses (400: a query value or IVORN that is not UTF-8 or has a malformed
#: escape; raw non-ASCII bytes are refused by its server), with the ``url`` voeventdb gives.
VOEVENTDB_URLS_OF_REFUSED = [
    (b"/apiv1/count?order=%FF&offset=%ff", "/apiv1/count?order=%FF&offset=%FF"),
    (b"/apiv1/count?order=%e2%82&limit=%ed%a0%80", "/apiv1/count?order=%E2%82&limit=%ED%A0%80"),
    (b"/apiv1/count?order=%zz&limit=%&offset=%%41", "/apiv1/count?order=%zz&limit=%&offset=%A"),
    (b"/apiv1/count?ivorn_contains=\xc3\xbcn\xc3\xaf", "/apiv1/count?ivorn_contains=ünï"),
    # voeventdb's server reads a raw (unescaped) path byte as the character of that code point.
    (
        b"/apiv1/packet/synopsis/ivo%3A%2F%2Fex.org%2F%FF%e2%82/\xff/\xc3\xa9",
        "/apiv1/packet/synopsis/ivo://ex.org/%FF%E2%82/ÿ/Ã©",
    ),
]


@pytest.mark.parametrize(("target", "url"), VOEVENTDB_URLS_OF_REFUSED)
def test_url_of_a_refused_target_follows_the_same_rule(target: bytes, url: str) -> None:
    path, _, query = target.partition(b"?")
    assert path_and_query(path.decode("latin-1"), query) == url


#: (scheme, Host header as sent, scheme and host of voeventdb.server 1.3.4's ``url``, as its
#: Werkzeug 1.0.1 rebuilds them).
VOEVENTDB_ORIGINS = [
    ("http", "example.org", "http://example.org"),
    ("http", "example.org:80", "http://example.org"),
    ("https", "example.org:443", "https://example.org"),
    ("https", "example.org:80", "https://example.org:80"),
    ("http", "localhost:443", "http://localhost:443"),
    ("http", "127.0.0.1:8080", "http://127.0.0.1:8080"),
    ("http", "[::1]:80", "http://[::1]"),
    ("http", "[::1]:8080", "http://[::1]:8080"),
    ("http", "EXAMPLE.Org", "http://EXAMPLE.Org"),
    ("http", "xn--bcher-kva.example", "http://bücher.example"),
    ("https", "xn--bcher-kva.xn--bcher-kva.example", "https://bücher.bücher.example"),
    ("http", "xn--bcher-kva.example:8080", "http://bücher.example:8080"),
    ("http", "xn--BCHER-KVA.example", "http://BüCHER.example"),
    ("http", "Xn--bcher-kva.example", "http://Xn--bcher-kva.example"),
    ("http", "a.xn--zz.example", "http://a.xn--zz.example"),
    ("http", "example.org:0080", "http://example.org:80"),
    ("http", "example.org:+80", "http://example.org:80"),
    ("http", "example.org:65536", "http://example.org"),
    ("http", "example.org:x", "http://example.org"),
    ("http", "xn--bcher-kva.example:", "http://bücher.example"),
    ("http", "[-]_443", "http://-"),  # brackets are kept only around an address with colons
    # user information (which a Host header cannot carry, but may): the host after the last @
    ("http", "u@xn--bcher-kva.example:0080", "http://u@bücher.example:80"),
    ("http", "u:p@h:80", "http://u:p@h"),
    ("http", "a:b:c@h:0081", "http://a:b:c@h:81"),
    ("http", "u@[::1]:80", "http://u@[::1]"),
    ("http", "u@h:x", "http://u@h"),
    ("http", "a@b@c", "http://a@b@c"),
    ("http", "xn--bcher-kva@h", "http://xn--bcher-kva@h"),
    ("https", "u@example.org:443", "https://u@example.org"),
    ("http", "@x", "http://x"),
    ("http", "x@", "http://x@"),
]


@pytest.mark.parametrize(("scheme", "host", "url"), VOEVENTDB_ORIGINS)
def test_the_scheme_and_host_are_rebuilt_as_voeventdb_does(
    client: Any, scheme: str, host: str, url: str
) -> None:
    """They were the Host header as sent: ``:80`` kept, punycode not decoded."""
    r = client.simulate_get("/apiv1/count", protocol=scheme, host=host)
    assert r.status_code == 200, r.text
    assert r.json["url"] == f"{url}/apiv1/count"

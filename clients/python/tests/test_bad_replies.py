"""Answers that are not the API's, and servers refusing a query: the client's own errors and
``vohub query``'s one-line message and exit status, never a traceback."""

from __future__ import annotations

from collections.abc import Callable
from http.server import ThreadingHTTPServer

import pytest

from vohub.client import Client, UnexpectedReply
from vohub.client.cli import main


def _url(server: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def _every_call(client: Client) -> list[Callable[[], object]]:
    """One call of each endpoint function that reads JSON, paged ones to their first item."""
    v2 = client.api == "v2"  # the map with an apiv2 filter asks /apiv2/maps
    return [
        client.count,
        lambda: client.map("stream_count"),
        lambda: client.map("stream_role_count", **({"stream_prefix": "n"} if v2 else {})),
        lambda: client.synopsis("ivo://a.b.c/d#1"),
        lambda: client.citation_network("ivo://a.b.c/d#1"),
        *(
            lambda pages=pages: next(pages(role="test"))  # type: ignore[operator]
            for pages in (client.packets, client.ivorns, client.ivorn_nrefs, client.ivorn_ncites)
        ),
    ]


@pytest.mark.parametrize(
    "body",
    [
        b'{"items": [null], "next_cursor": null, "count": "many", "result": {"a/b": "x"}}',
        b'{"items": [{"ivorn": 5, "received": "x"}], "entries": [{"key": "a/b"}], "result": "1"}',
        b'{"items": ["ivo://a.b.c/d#1"], "next_cursor": 7, "ivorn": "ivo://a.b.c/d#1"}',
    ],
)
def test_json_of_another_shape_is_an_unexpected_reply_from_every_endpoint(
    other_server: ThreadingHTTPServer, body: bytes
) -> None:
    """apiv2 packets of the wrong shape gave KeyError: 'ivorn', read outside the reply's check."""
    other_server.canned = (200, "application/json", body)  # type: ignore[attr-defined]
    for api in ("v2", "v1"):
        client = Client(_url(other_server), api=api, retries=0)  # type: ignore[arg-type]
        for call in _every_call(client):
            with pytest.raises(UnexpectedReply, match=_url(other_server)):
                call()


def test_a_body_that_does_not_decode_is_an_unexpected_reply(
    other_server: ThreadingHTTPServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """A corrupt gzip body (a misbehaving proxy) gave an httpx.DecodingError traceback."""
    other_server.canned = (200, "application/json", b"not gzip")  # type: ignore[attr-defined]
    other_server.headers = {"Content-Encoding": "gzip"}  # type: ignore[attr-defined]
    client = Client(_url(other_server), retries=0)
    for call in [*_every_call(client), lambda: client.xml("ivo://a.b.c/d#1"), client.table]:
        with pytest.raises(UnexpectedReply, match="a body that does not decode"):
            call()
    assert main(["packets", "--host", _url(other_server)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("vohub query: ")
    assert err.count("\n") == 1, err


def test_query_command_exits_2_when_the_server_refuses_a_parameter(
    other_server: ThreadingHTTPServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """--help promises 2 on bad input: a bad --cone gave 2, a bad --since (the server's 400) 1."""
    refusal = b'{"error": {"message": "not a date: \'garbage\'", "parameter": "authored_since"}}'
    other_server.canned = (400, "application/json", refusal)  # type: ignore[attr-defined]
    assert main(["count", "--since", "garbage", "--host", _url(other_server)]) == 2
    assert "parameter 'authored_since': not a date: 'garbage'" in capsys.readouterr().err


def test_query_command_tells_its_user_the_flag_for_apiv1(
    other_server: ThreadingHTTPServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """The hint for a server without /apiv2 was the Python keyword api='v1'."""
    other_server.canned = (404, "application/json", b'{"error": {"message": "Not Found"}}')  # type: ignore[attr-defined]
    assert main(["count", "--host", _url(other_server)]) == 1
    err = capsys.readouterr().err
    assert "a plain voeventdb has no /apiv2: use --api v1" in err
    assert "api='v1'" not in err

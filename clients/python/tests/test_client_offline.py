"""Client behaviour that needs no real server: retries, unreachable and silent hosts."""

from __future__ import annotations

import json
import socket
import struct
import threading
from http.server import ThreadingHTTPServer

import pytest

from vohub.client import (
    BadRequest,
    Client,
    ConnectionFailed,
    InvalidFilter,
    InvalidHost,
    NoApiV2,
    PacketNotFound,
    ServerError,
    ServerUnavailable,
    TimedOut,
    UnexpectedReply,
)
from vohub.client.cli import main
from vohub.testing.ports import free_port


def test_connection_refused_retries_then_names_the_url() -> None:
    waits: list[float] = []
    url = f"http://127.0.0.1:{free_port()}"
    client = Client(url, retries=3, backoff=0.1, sleep=waits.append)
    with pytest.raises(ConnectionFailed) as caught:
        client.count()
    assert caught.value.attempts == 4
    assert caught.value.url == f"{url}/apiv2/packets/count"
    assert waits == [0.1, 0.2, 0.4]


def test_v1_mode_refuses_v2_only_filters_before_sending() -> None:
    client = Client(f"http://127.0.0.1:{free_port()}", api="v1", retries=0)
    with pytest.raises(InvalidFilter, match="stream_prefix"):
        client.count(stream_prefix="nasa")


def test_unknown_map_kind() -> None:
    with pytest.raises(InvalidFilter, match="kind"):
        Client(f"http://127.0.0.1:{free_port()}").map("colour_count")


def test_a_slow_answer_times_out_once_without_retrying() -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never answers
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        waits: list[float] = []
        client = Client(url, timeout=0.3, retries=3, sleep=waits.append)
        with pytest.raises(TimedOut, match=rf"from {url}/apiv2/packets/count within 0.3 s"):
            client.count(authored_since="2016-01-01")
        assert waits == []  # not retried: the server may still be working on it


def test_query_command_gives_up_after_its_timeout(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:
        host = f"http://127.0.0.1:{silent.getsockname()[1]}"
        assert main(["count", "--host", host, "--timeout", "0.3"]) == 3
    assert "within 0.3 s" in capsys.readouterr().err


def test_a_host_without_scheme_is_refused_with_a_hint() -> None:
    with pytest.raises(InvalidHost, match=r"did you mean http://localhost:8080\?"):
        Client("localhost:8080")


@pytest.mark.parametrize(
    ("url", "meant"),
    [
        ("http://127.0.0.1:8080/apiv1", "http://127.0.0.1:8080"),
        ("https://alerts.example.org/apiv2/", "https://alerts.example.org"),
        ("https://example.org/hub/apiv1", "https://example.org/hub"),
    ],
)
def test_an_api_url_is_refused_with_the_servers_url(url: str, meant: str) -> None:
    """The client adds /apiv1 or /apiv2 itself: given one, it would ask for /apiv1/apiv2/..."""
    with pytest.raises(InvalidHost, match=rf"not an API's: .* \(did you mean {meant}\?\)"):
        Client(url)


@pytest.mark.parametrize(
    "argv",
    [["list", "--max", "-1"], ["count", "--timeout", "0"], ["count", "--timeout", "soon"]],
)
def test_query_command_refuses_bad_numbers(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as usage:
        main(argv)
    assert usage.value.code == 2
    assert f"argument {argv[1]}: expected a number of at least" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["map", "colour"], "KIND: give one of authored_month, role, stream, stream_role, not"),
        (["map"], "the following arguments are required: KIND"),
        (["synopsis"], "the following arguments are required: ivorn"),
        (["list", "ivo://nasa.gsfc.gcn/SWIFT#1"], "unrecognized arguments: ivo://nasa.gsfc"),
        (["count", "extra"], "unrecognized arguments: extra"),
        (["xml", "ivo://a.b.c/d#1", "--cone", "1,2,3"], "unrecognized arguments: --cone"),
    ],
)
def test_query_command_refuses_missing_and_stray_arguments(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Never a request the user did not mean (list ignoring an IVORN listed the archive)."""
    with pytest.raises(SystemExit) as usage:
        main([*argv, "--host", f"http://127.0.0.1:{free_port()}"])
    assert usage.value.code == 2
    assert message in capsys.readouterr().err


def test_query_command_refuses_a_host_without_scheme_before_asking(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["count", "--host", "localhost:8080"]) == 2  # not 3: nothing was sent
    assert "did you mean http://localhost:8080?" in capsys.readouterr().err


def _url(server: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


@pytest.mark.parametrize(
    ("canned", "error", "message"),
    [
        ((200, "text/html", b"<html>It works</html>"), UnexpectedReply, r"answered text/html"),
        ((200, "application/json", b'{"status": "ok"}'), UnexpectedReply, r"answered application"),
        ((502, "text/html", b"<h1>Bad Gateway</h1>"), ServerError, r"HTTP 502: <h1>Bad Gat"),
    ],
)
def test_a_host_that_is_no_archive_gets_a_clear_error(
    other_server: ThreadingHTTPServer,
    canned: tuple[int, str, bytes],
    error: type[Exception],
    message: str,
) -> None:
    """Another port of the hub, a web site or a proxy's error page: never a bare traceback."""
    other_server.canned = canned  # type: ignore[attr-defined]
    client = Client(_url(other_server), retries=0)
    for call in (
        client.count,
        lambda: client.synopsis("ivo://a.b.c/d#1"),
        lambda: client.map("stream_count"),
    ):
        with pytest.raises(error, match=message):
            call()
    with pytest.raises(error, match=message):
        next(client.packets(role="test"))


def test_query_command_names_a_host_that_is_no_archive(
    other_server: ThreadingHTTPServer, capsys: pytest.CaptureFixture[str]
) -> None:
    other_server.canned = (200, "text/html", b"<html>It works</html>")  # type: ignore[attr-defined]
    assert main(["count", "--host", _url(other_server)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(
        f"vohub query: {_url(other_server)}/apiv2/packets/count answered text/html"
    )
    assert "Traceback" not in err


def test_an_over_long_query_is_the_callers_fault_and_its_url_is_shortened(
    other_server: ThreadingHTTPServer,
) -> None:
    other_server.canned = (414, "application/json", b'{"error": {"message": "URI too long"}}')  # type: ignore[attr-defined]
    client = Client(_url(other_server), retries=0)
    with pytest.raises(BadRequest, match=r"URI too long") as caught:
        client.count(ivorn_contains=["x" * 100] * 100)
    assert len(str(caught.value)) < 300
    assert len(caught.value.url) > 10_000


@pytest.mark.parametrize("host", ["http://", "https:///apiv1", "http://:8080"])
def test_a_url_without_a_server_name_is_refused(host: str) -> None:
    with pytest.raises(InvalidHost, match=r"no server name"):
        Client(host)


@pytest.mark.parametrize("page_size", [0, -5, 2.5])
def test_a_page_size_below_one_is_refused_before_asking(page_size: int) -> None:
    client = Client(f"http://127.0.0.1:{free_port()}", retries=0)
    for pages in (
        client.ivorns(page_size=page_size),
        client.ivorns(stream_prefix="gw", page_size=page_size),
        client.packets(page_size=page_size),
    ):
        with pytest.raises(
            InvalidFilter, match=rf"^page_size: expected 1 or more, not {page_size}"
        ):
            next(pages)


def test_a_bytes_value_is_refused_not_sent_as_numbers() -> None:
    client = Client(f"http://127.0.0.1:{free_port()}", retries=0)
    with pytest.raises(InvalidFilter, match=r"^stream: cannot send a bytes"):
        client.count(stream=b"nasa.gsfc.gcn/SWIFT")


def test_a_404_means_no_such_packet_only_where_a_packet_is_asked_for(
    other_server: ThreadingHTTPServer,
) -> None:
    """Elsewhere the server lacks the API: a plain voeventdb asked for /apiv2, or another port."""
    missing = b'{"error": {"code": 404, "message": "no packet", "parameter": "ivorn"}}'
    other_server.canned = (404, "application/json", missing)  # type: ignore[attr-defined]
    client = Client(_url(other_server), retries=0)
    with pytest.raises(PacketNotFound):
        client.synopsis("ivo://a.b.c/d#1")
    with pytest.raises(PacketNotFound):
        client.xml("ivo://a.b.c/d#1")
    with pytest.raises(PacketNotFound):
        Client(_url(other_server), retries=0, api="v1").synopsis("ivo://a.b.c/d#1")
    # voeventdb's answer to a path it lacks, as /apiv2/... is to it
    no_route = b'{"error": {"code": 404, "message": "404 Not Found: The requested URL was..."}}'
    other_server.canned = (404, "application/json", no_route)  # type: ignore[attr-defined]
    for ask in (client.count, lambda: client.synopsis("ivo://a/b#1"), lambda: client.xml("x")):
        with pytest.raises(NoApiV2, match=r"a plain voeventdb has no /apiv2: use api='v1'"):
            ask()


@pytest.mark.parametrize(
    ("headers", "message"),
    [({}, r"answered HTTP 301"), ({"Location": "/again"}, r"answered redirects in a loop")],
)
def test_a_redirect_is_followed_and_a_dead_end_is_an_error(
    other_server: ThreadingHTTPServer, headers: dict[str, str], message: str
) -> None:
    """An empty 301 body was returned as the packet's XML."""
    other_server.canned = (301, "text/html", b"")  # type: ignore[attr-defined]
    other_server.headers = headers  # type: ignore[attr-defined]
    with pytest.raises(UnexpectedReply, match=message):
        Client(_url(other_server), retries=0).xml("ivo://a.b.c/d#1")


def test_a_connection_reset_mid_answer_is_retried_then_named() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        url = f"http://127.0.0.1:{server.getsockname()[1]}"

        def half_answers() -> None:
            for _ in range(2):
                connection, _ = server.accept()
                connection.recv(65536)
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{")
                connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                connection.close()  # a reset, half-way through the body

        thread = threading.Thread(target=half_answers, daemon=True)
        thread.start()
        with pytest.raises(ConnectionFailed) as failed:
            Client(url, retries=1, sleep=lambda s: None).count()
        thread.join(10)
    assert failed.value.attempts == 2


def test_options_that_make_no_sense_are_refused() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(InvalidFilter, match=r"^api: expected 'v1' or 'v2', not 'V1'"):
        Client(url, api="V1")  # type: ignore[arg-type]
    with pytest.raises(InvalidFilter, match=r"^fmt: tables come from vohub's apiv2 only"):
        Client(url, api="v1").table()


@pytest.mark.parametrize(
    ("host", "kept"),
    [("HTTP://127.0.0.1:8080", "http://127.0.0.1:8080"), (" https://h.org/ ", "https://h.org")],
)
def test_a_host_in_capitals_or_with_spaces_is_taken(host: str, kept: str) -> None:
    assert Client(host).host == kept


def test_another_scheme_gets_the_http_url_as_a_hint() -> None:
    with pytest.raises(InvalidHost, match=r"did you mean http://alerts.example.org\?"):
        Client("ftp://alerts.example.org")


def test_a_503_is_retried_after_the_servers_retry_after(other_server: ThreadingHTTPServer) -> None:
    """The gateway says when its archive may be back; the client waited 0.2, 0.4, 0.8 s."""
    other_server.canned = (503, "application/json", b'{"error": {"message": "archive down"}}')  # type: ignore[attr-defined]
    other_server.headers = {"Retry-After": "5"}  # type: ignore[attr-defined]
    waits: list[float] = []
    with pytest.raises(ServerUnavailable, match="archive down"):
        Client(_url(other_server), retries=2, sleep=waits.append).count()
    assert waits == [5.0, 5.0]


def test_query_command_exits_3_when_the_servers_archive_stays_unavailable(
    other_server: ThreadingHTTPServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 503 after every retry means the service is unreachable (3), not a refused query (1)."""
    other_server.canned = (503, "application/json", b'{"error": {"message": "archive down"}}')  # type: ignore[attr-defined]
    other_server.headers = {"Retry-After": "0"}  # type: ignore[attr-defined]
    assert main(["count", "--host", _url(other_server)]) == 3
    assert capsys.readouterr().err == (
        f"vohub query: HTTP 503: archive down ({_url(other_server)}/apiv2/packets/count)\n"
    )


def test_query_help_states_the_exit_statuses(capsys: pytest.CaptureFixture[str]) -> None:
    """Scripts branch on them; the help did not give them."""
    with pytest.raises(SystemExit):
        main(["--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert "Exit status: 0 on an answer; 1 on an HTTP error" in shown
    assert "3 when the server cannot be reached, is too slow, or answers 503" in shown


def test_an_empty_stream_role_map_keeps_its_three_columns(
    other_server: ThreadingHTTPServer, capsys: pytest.CaptureFixture[str]
) -> None:
    other_server.canned = (200, "application/json", b'{"entries": [], "kind": "stream_role"}')  # type: ignore[attr-defined]
    argv = ["map", "stream_role", "--stream-prefix", "nowhere/", "--host", _url(other_server)]
    assert main([*argv, "--format", "csv"]) == 0
    assert capsys.readouterr().out == "key,subkey,count\n"


def test_query_command_shows_a_packet_authored_at_the_end_of_year_9999(
    other_server: ThreadingHTTPServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """Schema-valid and archived, it made packets and synopsis die with OverflowError."""
    item = {"ivorn": "ivo://a.b.c/d#1", "stream": "a.b.c/d", "role": "test", "refs": [],
            "received": "2026-12-08T01:40:16.651182Z", "cited_by": [],
            "author_datetime": "9999-12-31T23:59:59.999900Z"}  # fmt: skip
    page = json.dumps({"items": [item], "next_cursor": None}).encode()
    other_server.canned = (200, "application/json", page)  # type: ignore[attr-defined]
    for fmt in ("table", "json", "csv"):
        assert main(["packets", "--order", "-author_datetime", "--format", fmt,
                     "--host", _url(other_server)]) == 0  # fmt: skip
        assert "9999-12-31T23:59:59.999Z" in capsys.readouterr().out

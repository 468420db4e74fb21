"""Client behaviour that needs no real server: retries, unreachable and silent hosts."""

from __future__ import annotations

import socket

import pytest

from vohub.client import Client, ConnectionFailed, InvalidFilter, InvalidHost, TimedOut
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
        (["map", "colour"], "map: give one of authored_month, role, stream, stream_role, not"),
        (["map"], "map: give one of authored_month, role, stream, stream_role\n"),
        (["synopsis"], "synopsis: give the packet's IVORN"),
        (["count", "--host", "localhost:8080"], "did you mean http://localhost:8080?"),
    ],
)
def test_query_command_names_what_is_missing_before_asking(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    unreachable = ["--host", f"http://127.0.0.1:{free_port()}"] if "--host" not in argv else []
    assert main([*argv, *unreachable]) == 2  # not 3: nothing was sent
    assert message in capsys.readouterr().err

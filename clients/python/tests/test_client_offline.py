"""Client behaviour that needs no server: retries and the error for an unreachable host."""

from __future__ import annotations

import pytest

from vohub.client import Client, ConnectionFailed, InvalidFilter
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

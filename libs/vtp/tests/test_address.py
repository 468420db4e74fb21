"""HOST:PORT parsing for command lines and configuration."""

from __future__ import annotations

import pytest

from vohub.vtp.address import parse_address


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:8098", ("127.0.0.1", 8098)),
        ("broker.example.org:8099", ("broker.example.org", 8099)),
        ("[::1]:8099", ("::1", 8099)),
        ("[::1]", ("::1", 7)),
        ("::1", ("::1", 7)),
        ("host", ("host", 7)),
        ("host:", ("host", 7)),
    ],
)
def test_valid_addresses(text: str, expected: tuple[str, int]) -> None:
    assert parse_address(text, default_port=7) == expected


@pytest.mark.parametrize(
    ("text", "default", "reason"),
    [
        ("host", None, "expected HOST:PORT"),
        (":8099", None, "no host"),
        ("host:0", None, "port must be"),
        ("host:65536", None, "port must be"),
        ("host:80a", 7, "port must be"),
        ("[]:1", None, "no host"),
    ],
)
def test_invalid_addresses_name_the_text(text: str, default: int | None, reason: str) -> None:
    with pytest.raises(ValueError, match=reason) as caught:
        parse_address(text, default)
    assert repr(text) in str(caught.value)

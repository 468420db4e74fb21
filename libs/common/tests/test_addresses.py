"""HOST:PORT parsing."""

from __future__ import annotations

import pytest

from vohub.common.addresses import Address, parse_address
from vohub.common.errors import AddressError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:8098", Address("127.0.0.1", 8098)),
        (" localhost:0 ", Address("localhost", 0)),
        ("[::1]:8099", Address("::1", 8099)),
    ],
)
def test_parses(text: str, expected: Address) -> None:
    assert parse_address(text) == expected


def test_formats_ipv6_with_brackets() -> None:
    assert str(Address("::1", 50051)) == "[::1]:50051"
    assert str(Address("127.0.0.1", 50051)) == "127.0.0.1:50051"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("127.0.0.1", "no port in '127.0.0.1'"),
        (":8098", "no host in ':8098'"),
        ("host:99999", "port of 'host:99999' is out of range"),
        ("host:-1", "port of 'host:-1' is not a number"),
    ],
)
def test_errors_name_the_value_and_key(text: str, message: str) -> None:
    with pytest.raises(AddressError) as err:
        parse_address(text, key="broker.remote[0]")
    assert str(err.value) == f"broker.remote[0]: {message}" or message in str(err.value)
    assert err.value.key == "broker.remote[0]"

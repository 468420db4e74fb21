"""Parse and format ``HOST:PORT`` network addresses as given on command lines and in config."""

from __future__ import annotations

from typing import NamedTuple

from vohub.common.errors import AddressError


class Address(NamedTuple):
    """A host and a TCP port."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_address(text: str, *, default_port: int | None = None, key: str = "address") -> Address:
    """Read ``HOST:PORT`` (``[v6]:PORT`` for IPv6; ``HOST`` alone when a default port is given).

    >>> parse_address("127.0.0.1:8098")
    Address(host='127.0.0.1', port=8098)
    >>> parse_address("voevent.example.org", default_port=8099)
    Address(host='voevent.example.org', port=8099)
    >>> parse_address("[::1]:50051").host
    '::1'
    >>> parse_address("localhost:http")
    Traceback (most recent call last):
    ...
    vohub.common.errors.AddressError: address: port of 'localhost:http' is not a number
    """
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":") if rest else ""
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:
        host, port_text = text, ""
    if not host:
        raise AddressError(key, f"no host in {text!r}")
    if not port_text:
        if default_port is None:
            raise AddressError(key, f"no port in {text!r} (expected HOST:PORT)")
        return Address(host, default_port)
    if not port_text.isdigit():
        raise AddressError(key, f"port of {text!r} is not a number")
    port = int(port_text)
    if not 0 <= port <= 65535:
        raise AddressError(key, f"port of {text!r} is out of range")
    return Address(host, port)

"""Parse ``HOST:PORT`` broker addresses as written on command lines and in configuration."""

from __future__ import annotations


def parse_address(text: str, default_port: int | None = None) -> tuple[str, int]:
    """Split ``HOST:PORT`` (``[V6ADDR]:PORT`` for IPv6) into a host and a port number.

    Parameters
    ----------
    text
        The address as written.
    default_port
        Used when ``text`` has no port (Comet's ``--remote`` defaults to 8099); ``None`` makes
        the port mandatory.

    Raises
    ------
    ValueError
        Naming ``text`` if the host is empty or the port is missing or out of range.

    Examples
    --------
    >>> parse_address("127.0.0.1:8098")
    ('127.0.0.1', 8098)
    >>> parse_address("[::1]:8099"), parse_address("broker.example.org", 8099)
    (('::1', 8099), ('broker.example.org', 8099))
    >>> parse_address("localhost:http")
    Traceback (most recent call last):
    ...
    ValueError: bad address 'localhost:http': port must be a number from 1 to 65535
    """
    host, sep, port_text = text.rpartition(":")
    bracketed = text.startswith("[")
    if not sep or (bracketed and not host.endswith("]")) or (":" in host and not bracketed):
        host, port_text = text, ""  # no port, or a bare IPv6 address
    host = host.removeprefix("[").removesuffix("]")
    if not host:
        raise ValueError(f"bad address {text!r}: no host")
    if not port_text:
        if default_port is None:
            raise ValueError(f"bad address {text!r}: expected HOST:PORT")
        return host, default_port
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"bad address {text!r}: port must be a number from 1 to 65535")
    return host, int(port_text)

"""argparse types shared by the ``vohub`` subcommands: a bad value is a usage error (status 2)."""

from __future__ import annotations

import argparse

from vohub.vtp.address import parse_address


def broker_address(text: str) -> tuple[str, int]:
    """argparse type for ``HOST:PORT``.

    >>> broker_address("127.0.0.1:8099")
    ('127.0.0.1', 8099)
    """
    try:
        return parse_address(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def positive_seconds(text: str) -> float:
    """argparse type for a positive number of seconds.

    >>> positive_seconds("2.5")
    2.5
    >>> positive_seconds("0")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: expected a positive number of seconds, got '0'
    """
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """argparse type for a count of at least 1.

    >>> positive_int("3")
    3
    >>> positive_int("-1")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: expected a whole number of at least 1, got '-1'
    """
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def port_number(text: str) -> int:
    """argparse type for a TCP port to listen on, 1 to 65535 (0 would be a random one).

    >>> port_number("8080")
    8080
    >>> port_number("70000")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: expected a port number from 1 to 65535, got '70000'
    """
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number from 1 to 65535, got {text!r}")
    return value

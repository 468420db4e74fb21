"""vohub client: query a vohub (or voeventdb) archive over HTTP from Python.

>>> from vohub.client import Client, Synopsis
>>> Client("http://127.0.0.1:8080/").host
'http://127.0.0.1:8080'
"""

from vohub.client.client import Client
from vohub.client.errors import (
    BadRequest,
    ConnectionFailed,
    InvalidFilter,
    InvalidHost,
    LimitTooLarge,
    NoApiV2,
    PacketNotFound,
    ServerError,
    ServerUnavailable,
    TimedOut,
    UnexpectedReply,
    VohubError,
    VohubHTTPError,
)
from vohub.client.models import Position, Reference, Synopsis

__all__ = [
    "BadRequest",
    "Client",
    "ConnectionFailed",
    "InvalidFilter",
    "InvalidHost",
    "LimitTooLarge",
    "NoApiV2",
    "PacketNotFound",
    "Position",
    "Reference",
    "ServerError",
    "ServerUnavailable",
    "Synopsis",
    "TimedOut",
    "UnexpectedReply",
    "VohubError",
    "VohubHTTPError",
]

"""Validator: the author's address must lie in the author whitelist (CIDR networks)."""

from __future__ import annotations

from collections.abc import Sequence

from vohub.broker.config import Network, allowed
from vohub.broker.pipeline import Refusal, Source
from vohub.vtp.messages import Event


class CheckWhitelist:
    """Refuse packets from authors outside ``networks``; upstream brokers are not checked.

    >>> import ipaddress
    >>> check = CheckWhitelist([ipaddress.ip_network("127.0.0.0/8")])
    >>> event = Event(b"", "ivo://a.b/c#1", "test", None)
    >>> check(event, Source("author", "10.0.0.7:5000", "10.0.0.7")).reason
    'author 10.0.0.7 is not in the author whitelist'
    >>> check(event, Source("upstream", "10.0.0.7:8099", "10.0.0.7")) is None
    True
    """

    def __init__(self, networks: Sequence[Network]) -> None:
        self.networks = list(networks)

    def __call__(self, event: Event, source: Source) -> Refusal | None:
        if source.path == "upstream" or allowed(source.host, self.networks):
            return None
        return Refusal("whitelist", f"author {source.host} is not in the author whitelist")

"""Validator: the author's address must lie in the author whitelist (CIDR networks).

A gRPC publisher outside it gets its packet refused, naming its address; a VTP author outside
it never gets as far as a packet (the receive port closes on it at connect).
"""

from __future__ import annotations

from collections.abc import Sequence

from vohub.broker.config import Network, allowed
from vohub.broker.pipeline import Refusal, Source
from vohub.vtp.messages import Event


class CheckWhitelist:
    """Refuse packets from gRPC publishers outside ``networks``. Upstream brokers are not
    checked, and VTP authors were checked when they connected.

    >>> import ipaddress
    >>> check = CheckWhitelist([ipaddress.ip_network("127.0.0.0/8")])
    >>> event = Event(b"", "ivo://a.b/c#1", "test", None)
    >>> check(event, Source("grpc", "10.0.0.7:5000", "10.0.0.7")).reason
    'author 10.0.0.7 is not in the author whitelist'
    >>> check(event, Source("upstream", "10.0.0.7:8099", "10.0.0.7")) is None
    True
    """

    def __init__(self, networks: Sequence[Network]) -> None:
        self.networks = list(networks)
        self._known: dict[str, bool] = {}  # host -> allowed; authors are few, packets many

    def __call__(self, event: Event, source: Source) -> Refusal | None:
        if source.path != "grpc":
            return None
        verdict = self._known.get(source.host)
        if verdict is None:
            if len(self._known) >= 4096:
                self._known.clear()
            verdict = self._known[source.host] = allowed(source.host, self.networks)
        if verdict:
            return None
        return Refusal("whitelist", f"author {source.host} is not in the author whitelist")

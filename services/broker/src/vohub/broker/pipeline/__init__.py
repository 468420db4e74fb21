"""The broker's acceptance policy: small named validators and handlers, composed in ``app.py``.

A *validator* looks at one incoming packet and either lets it through (returns None) or
refuses it with a :class:`Refusal` naming the reason, which becomes the text of the ``nak``
an author gets (or the ``reason`` of a gRPC ``PublishResponse``). A *handler* runs on every
packet accepted and written to the spool (relay to subscribers, local ``--exec`` commands;
before the fsync or after it, see :mod:`.accept`), in acceptance order, a batch at a time
(the packets written together); it must not block nor raise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from vohub.broker.fanout import Accepted
from vohub.vtp.messages import Event

#: The ways a packet reaches the broker.
Path = Literal["author", "upstream", "grpc"]
#: What became of a packet.
Status = Literal["accepted", "duplicate", "conflict", "rejected"]


@dataclass(frozen=True, slots=True)
class Source:
    """Where a packet came from: its path, the peer (for logs) and its IP (for whitelists)."""

    path: Path
    peer: str
    host: str = ""


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a packet is not accepted: a short metric label and a reason for humans.

    >>> Refusal("duplicate", "Previously seen by this broker").status
    'duplicate'
    >>> Refusal("schema", "schema violation: ...").status
    'rejected'
    """

    label: str
    reason: str

    @property
    def status(self) -> Status:
        """The outcome this refusal gives: duplicate, conflict or rejected."""
        if self.label == "duplicate":
            return "duplicate"
        if self.label == "conflict":
            return "conflict"
        return "rejected"


@dataclass(frozen=True, slots=True)
class Outcome:
    """The verdict on one packet, as every entry point (VTP, gRPC) reports it."""

    status: Status
    ivorn: str
    reason: str = ""
    label: str = ""

    @property
    def accepted(self) -> bool:
        """Whether the packet was accepted (new and durable)."""
        return self.status == "accepted"


class Validator(Protocol):
    """Refuses a packet (returns a Refusal) or lets it through (returns None)."""

    def __call__(self, event: Event, source: Source) -> Refusal | None:
        """Judge one packet."""


class Handler(Protocol):
    """Acts on accepted, durable packets, in order; must return quickly."""

    def __call__(self, batch: Sequence[Accepted]) -> None:
        """Handle the packets accepted in one turn of the event loop."""


__all__ = ["Handler", "Outcome", "Path", "Refusal", "Source", "Status", "Validator"]

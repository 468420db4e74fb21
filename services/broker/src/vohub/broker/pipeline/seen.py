"""Validator: the packet's IVORN must not have been seen (IVORN dedup with expiry).

An exact repeat (same IVORN, same bytes) is a *duplicate*; the same IVORN with other bytes is
a *conflict*. Both are refused here, which means: never relayed again. What the sender hears
is decided by the entry point: an upstream broker always gets an ack; an author gets a nak
(Comet's "Previously seen by this broker" for a duplicate, unless ``duplicate_ack`` is set);
gRPC ``Publish`` answers DUPLICATE or REJECTED.
"""

from __future__ import annotations

from vohub.broker.dedup import SeenStore, Verdict, digest
from vohub.broker.pipeline import Refusal, Source
from vohub.vtp.messages import Event

#: Comet's nak text for a packet it has seen; kept so that Comet tooling reads it the same.
PREVIOUSLY_SEEN = "Previously seen by this broker"


class CheckPreviouslySeen:
    """Refuse an IVORN already seen; a new one is reserved until made durable or released."""

    def __init__(self, store: SeenStore) -> None:
        self.store = store

    def __call__(self, event: Event, source: Source) -> Refusal | None:
        verdict = self.store.check(event.ivorn, digest(event.raw))
        if verdict is Verdict.NEW:
            return None
        if verdict is Verdict.DUPLICATE:
            return Refusal("duplicate", PREVIOUSLY_SEEN)
        return Refusal(
            "conflict",
            f"IVORN {event.ivorn} was already seen with different content (conflict); "
            "publish a new IVORN, citing the old one",
        )

"""Run the pipeline on one packet: validate, reserve its IVORN, make it durable, hand it on.

This is the one path every packet takes, whichever door it came in by (VTP author, upstream
broker, gRPC ``Publish``). The verdict returns only once an accepted packet is in the spool
and fsync'd, so an ack can never be given for a packet a crash could lose.

Handlers (relay, ``--exec``) run in acceptance order, even if the submitter has gone away.
With ``relay="accepted"`` (the default) they run as soon as the spool has written the
packet's batch, before its fsync: alerts reach subscribers without waiting for the disk (an
fsync costs 0.2 to 8 ms). The price is a window of a few milliseconds in which a crash can
leave a packet relayed but not yet durable: its author gets no ack and resends it, and
subscribers then see it twice (downstream brokers drop the repeat). ``relay="durable"``
closes that window and relays only durable packets.

When the disk fails the spool (:meth:`Acceptor._failed`), the batch's packets are refused
("broker storage failed: ...") and none is relayed: a full disk, a quota or a file-size
limit fails the write, which comes before the relay. Only a write that succeeds and whose
fsync then fails (an I/O error; a file system that finds itself full only at the fsync)
leaves that one batch relayed and refused. From the failure until a batch is durable again,
the broker relays as ``relay="durable"`` does, so no later packet can be relayed and
refused; ``storage_error`` says why meanwhile (``/healthz``), ``storage.failed`` and
``storage.recovered`` are logged, and ``vohub_broker_storage_failures_total`` counts the
failed writes.

The validators come in three stages: *screens* that need no parse (the author whitelist),
*checks* that read the parsed tree (schema), and *dedup* (last: it reserves the IVORN). With a
:class:`~vohub.broker.judge.JudgeProcess`, an edge that read its packets by their heads only
(a VTP author connection) has the checks done in the judge's process: it calls
:meth:`Acceptor.screen`, then the judge, then :meth:`Acceptor.offer_judged` with the
verdicts, batch after batch in the order sent, so dedup still sees packets in arrival order.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Sequence
from typing import Any

from prometheus_client import Counter

from vohub.broker.dedup import SeenStore
from vohub.broker.errors import SpoolClosed
from vohub.broker.fanout import Accepted
from vohub.broker.judge import JudgeProcess
from vohub.broker.logfast import HotLog
from vohub.broker.metrics import Metrics
from vohub.broker.pipeline import Handler, Outcome, Refusal, Source, Validator
from vohub.broker.spool import Record, Spool
from vohub.common.logs import get_logger
from vohub.voevent.ivorn import stream_of
from vohub.vtp.errors import VTPError
from vohub.vtp.messages import Event, parse_event

log = get_logger("vohub.broker.packet")
storage_log = get_logger("vohub.broker.spool")
#: The accepted line, one per packet, by the short way when it writes the same line.
hot = HotLog(log)


class Acceptor:
    """Judges packets (screens, checks, dedup), spools the accepted, runs ``handlers``."""

    def __init__(
        self,
        *,
        screens: Sequence[Validator],
        checks: Sequence[Validator],
        dedup: Validator,
        handlers: Sequence[Handler],
        seen: SeenStore,
        spool: Spool,
        metrics: Metrics,
        max_bytes: int,
        relay_early: bool = True,
        judge: JudgeProcess | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.screens = list(screens)
        self.dedup = dedup
        self.validators = [*screens, *checks, dedup]
        self.judge = judge
        self.handlers = list(handlers)
        self.seen = seen
        self.spool = spool
        self.metrics = metrics
        self.max_bytes = max_bytes
        self.relay_early = relay_early
        self.clock = clock
        self._children: dict[tuple[int, str], Any] = {}
        self._relay: list[Accepted] = []  # durable, relayed at the next turn of the loop
        self._early: list[Accepted] = []  # accepted, relayed once the spool has written them
        #: Why the spool's last write failed, until a batch is durable again (None: healthy).
        self.storage_error: str | None = None
        spool.on_written = self._written
        spool.on_durable = self._durable
        spool.on_failed = self._failed

    def _written(self, records: list[Record]) -> None:
        """The spool wrote a batch and its fsync comes next: relay its early packets (every
        one queued since the last batch: the spool writes all it holds)."""
        if self._early:
            batch, self._early = self._early, []
            for handler in self.handlers:
                handler(batch)

    def _durable(self, records: list[Record]) -> None:
        self.seen.commit(r.ivorn for r in records)
        self.metrics.spool_depth.set(self.spool.depth + len(records))
        if self.storage_error is not None:
            self.storage_error = None
            storage_log.info("storage.recovered", folder=str(self.spool.directory))

    def _failed(self, records: list[Record], error: OSError) -> None:
        """The spool could not write (or fsync) a batch: its packets will be refused, so its
        early ones are not relayed, and no packet is relayed before its fsync until a batch
        is durable again."""
        self._early = []
        self.metrics.storage_failures.inc()
        reason = error.strerror or str(error)
        if self.storage_error is None:
            storage_log.error(
                "storage.failed",
                folder=str(self.spool.directory),
                error=reason,
                refused=len(records),
                relay="after the fsync until a write succeeds",
            )
        self.storage_error = f"cannot write the spool in {self.spool.directory}: {reason}"

    async def submit(self, raw: bytes, source: Source, event: Event | None = None) -> Outcome:
        """The verdict on ``raw`` (already parsed as ``event`` by a VTP edge, if given)."""
        verdict = self.offer(raw, source, event)
        if isinstance(verdict, Outcome):
            return verdict
        return await asyncio.shield(verdict)

    def offer(
        self, raw: bytes, source: Source, event: Event | None = None
    ) -> Outcome | asyncio.Future[Outcome]:
        """Judge ``raw`` now: a refusal at once, or a future verdict resolved once it is durable.

        Synchronous up to the spool, so an edge with several packets in hand (a pipelined
        author) judges them in order without a task each.
        """
        refused = self._received(raw, source)
        if refused is not None:
            return refused
        if event is None:
            try:
                event = parse_event(raw, any_root=True)
            except VTPError as exc:
                return self._refuse(exc.ivorn or "", Refusal("invalid", exc.detail), source)
        refused = self._validate(self.validators, event, source)
        if refused is None:
            return self._accept(event, source)
        if refused.status == "conflict":
            self._keep_conflict(event)
        return refused

    def offer_many(
        self, events: Sequence[Event], source: Source
    ) -> list[Outcome | asyncio.Future[Outcome]]:
        """:meth:`offer` each of ``events`` (parsed), in order, with one dedup query for all."""
        self.seen.prefetch([event.ivorn for event in events])
        try:
            return [self.offer(event.raw, source, event) for event in events]
        finally:
            self.seen.forget()

    def screen(self, event: Event, source: Source) -> Outcome | None:
        """Run the checks that need no parse: a refusal (``event`` is counted in), or None.

        The first step for a packet read by its head only; the judge comes next, and
        :meth:`offer_judged` counts in the packets it could read. One it cannot read is not
        counted, as an unreadable frame is not, judge or no judge: every packet counted in
        gets one verdict (accepted or refused).
        """
        refused = self._oversize(event.raw, source) or self._validate(self.screens, event, source)
        if refused is not None:
            self._counter(self.metrics.received, source.path).inc()
        return refused

    def offer_judged(
        self,
        judged: Sequence[tuple[Event, Refusal | None, asyncio.Future[Outcome]]],
        source: Source,
    ) -> None:
        """Settle each screened ``(event, judge's refusal or None, verdict)`` in order: dedup,
        spool; each ``verdict`` is resolved as :meth:`offer`'s would be."""
        self._counter(self.metrics.received, source.path).inc(len(judged))
        self.seen.prefetch([event.ivorn for event, refusal, _ in judged if refusal is None])
        try:
            for event, refusal, verdict in judged:
                refusal = refusal or self.dedup(event, source)
                if refusal is not None:
                    if refusal.status == "conflict":
                        self._keep_conflict(event)
                    verdict.set_result(self._refuse(event.ivorn, refusal, source))
                else:
                    outcome = self._accept(event, source, verdict)
                    if isinstance(outcome, Outcome):
                        verdict.set_result(outcome)
        finally:
            self.seen.forget()

    def _received(self, raw: bytes, source: Source) -> Outcome | None:
        """Count ``raw`` in; a refusal if it is over the size limit."""
        self._counter(self.metrics.received, source.path).inc()
        return self._oversize(raw, source)

    def _oversize(self, raw: bytes, source: Source) -> Outcome | None:
        """A refusal if ``raw`` is over the size limit, else None."""
        if len(raw) <= self.max_bytes:
            return None
        message = f"packet of {len(raw)} bytes exceeds the limit of {self.max_bytes} bytes"
        return self._refuse("", Refusal("too_large", message), source)

    def _validate(
        self, validators: Sequence[Validator], event: Event, source: Source
    ) -> Outcome | None:
        """The refusal of the first of ``validators`` that refuses ``event``, or None."""
        for validator in validators:
            refusal = validator(event, source)
            if refusal is not None:
                return self._refuse(event.ivorn, refusal, source)
        return None

    def _accept(
        self, event: Event, source: Source, verdict: asyncio.Future[Outcome] | None = None
    ) -> Outcome | asyncio.Future[Outcome]:
        received = self.clock()
        try:
            durable = self.spool.append(event.ivorn, event.raw, received)
        except SpoolClosed as exc:
            self.seen.release(event.ivorn)
            return self._refuse(event.ivorn, Refusal("unavailable", exc.message), source)
        accepted = Accepted(event, stream_of(event.ivorn), received, source.path)
        later = None  # what runs once durable keeps no packet (nor its tree) alive if it can
        if self.relay_early and self.storage_error is None:
            self._early.append(accepted)
        else:
            later = accepted
        if verdict is None:
            verdict = asyncio.get_running_loop().create_future()
        settle = functools.partial(
            self._settle, verdict, event.ivorn, len(event.raw), source, later
        )
        durable.add_done_callback(settle)
        return verdict

    def _keep_conflict(self, event: Event) -> None:
        """Spool a conflicting copy for the archive, which keeps it beside the first copy.

        The copy is still refused: never relayed, and its sender hears the same as before.
        """
        try:
            durable = self.spool.append(event.ivorn, event.raw, self.clock())
        except SpoolClosed:
            log.warning("conflict.not_kept", ivorn=event.ivorn, reason="the spool is closed")
            return
        durable.add_done_callback(functools.partial(_warn_if_not_kept, event.ivorn))

    def _settle(
        self,
        verdict: asyncio.Future[Outcome],
        ivorn: str,
        size: int,
        source: Source,
        accepted: Accepted | None,
        durable: asyncio.Future[None],
    ) -> None:
        error = None if durable.cancelled() else durable.exception()
        if durable.cancelled() or error is not None:
            self.seen.release(ivorn)
            reason = f"broker storage failed: {getattr(error, 'strerror', None) or error}"
            outcome = self._refuse(ivorn, Refusal("unavailable", reason), source)
        else:
            if accepted is not None:
                self._run_handlers(accepted)
            self._counter(self.metrics.accepted, source.path).inc()
            hot.info("packet.accepted", ivorn=ivorn, path=source.path, peer=source.peer, bytes=size)
            outcome = Outcome("accepted", ivorn)
        if not verdict.done():
            verdict.set_result(outcome)

    def _counter(self, family: Counter, path: str) -> Any:
        """The child of a per-path counter, looked up once (labels() is slow on hot paths)."""
        key = (id(family), path)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = family.labels(path=path)
        return child

    def _run_handlers(self, accepted: Accepted) -> None:
        """Queue ``accepted`` for the handlers: they get the loop turn's packets in one batch."""
        self._relay.append(accepted)
        if len(self._relay) == 1:
            asyncio.get_running_loop().call_soon(self._relay_batch)

    def _relay_batch(self) -> None:
        batch, self._relay = self._relay, []
        for handler in self.handlers:
            handler(batch)

    def _refuse(self, ivorn: str, refusal: Refusal, source: Source) -> Outcome:
        self.metrics.rejected.labels(path=source.path, reason=refusal.label).inc()
        # In a mesh every packet comes back from the other brokers: such duplicates are the
        # normal case, counted but logged only at debug level.
        routine = source.path == "upstream" and refusal.label == "duplicate"
        (log.debug if routine else log.info)(
            "packet.refused",
            ivorn=ivorn,
            path=source.path,
            peer=source.peer,
            label=refusal.label,
            reason=refusal.reason,
        )
        return Outcome(refusal.status, ivorn, refusal.reason, refusal.label)


def _warn_if_not_kept(ivorn: str, durable: asyncio.Future[None]) -> None:
    """Log a conflicting copy that could not be spooled (its sender was refused anyway)."""
    error = None if durable.cancelled() else durable.exception()
    if durable.cancelled() or error is not None:
        log.warning("conflict.not_kept", ivorn=ivorn, reason=str(error or "cancelled"))

"""One pipelined connection to a broker's receive port, as :class:`~vohub.vtp.Publisher` keeps.

It writes events, hands each verdict to its waiter in order, and keeps one watchdog for the
oldest event in flight. The protocol is :class:`~vohub.vtp.pipeline.PipelinedAuthor`'s; this
module moves bytes and keeps time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import cast

from vohub.vtp.errors import ClosedWithoutReply, ReplyTimeout, VTPError
from vohub.vtp.messages import Ack, Nak
from vohub.vtp.pipeline import PipelinedAuthor, PipelineState


class NotRead(Exception):
    """The broker closed a pipelined connection before reading this event: send it again."""


class PipelinedLink(asyncio.Protocol):
    """One pipelined connection: writes events, hands each verdict to its waiter, in order.

    One watchdog per connection, not a timer per event: when the oldest event in flight has
    waited ``timeout`` seconds, every waiter fails with ReplyTimeout and the connection is
    dropped (replies come in order, so nothing behind it could be answered first).

    A broker answers every event it has read before it closes (it stops reading at a frame it
    will not take: too large, or not XML), so when it closes with events unanswered, the
    oldest is the one it stopped at and fails; those after it were never read, and their
    callers send them again on a new connection.
    """

    def __init__(self, machine: PipelinedAuthor, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        self.machine = machine
        self.timeout = timeout
        self.granted: asyncio.Future[bool] = loop.create_future()
        self.waiters: deque[asyncio.Future[Ack | Nak]] = deque()
        self.sent_at: deque[float] = deque()
        self.transport: asyncio.Transport | None = None
        self.lost = loop.create_future()
        self.flush_due = False
        self.watchdog: asyncio.TimerHandle | None = None

    @property
    def usable(self) -> bool:
        return self.machine.state is PipelineState.OPEN and not self.lost.done()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.transport.write(self.machine.data_to_send())

    def send(self, packet: bytes) -> asyncio.Future[Ack | Nak]:
        self.machine.send(packet)
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Ack | Nak] = loop.create_future()
        self.waiters.append(waiter)
        self.sent_at.append(loop.time())
        if not self.flush_due:  # events sent in one turn of the loop go out in one write
            self.flush_due = True
            loop.call_soon(self.flush)
        if self.watchdog is None:
            self.watchdog = loop.call_later(self.timeout, self._watch)
        return waiter

    def _watch(self) -> None:
        self.watchdog = None
        if not self.sent_at:
            return
        loop = asyncio.get_running_loop()
        due = self.sent_at[0] + self.timeout
        if loop.time() < due:
            self.watchdog = loop.call_at(due, self._watch)
            return
        self._fail_all(
            ReplyTimeout(f"no ack or nak within {self.timeout:g} s", peer=self.machine.peer)
        )
        self.abort()

    def flush(self) -> None:
        self.flush_due = False
        data = self.machine.data_to_send()
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        try:
            replies = self.machine.receive_data(data)
        except VTPError as exc:
            self._fail_all(exc)
            self.abort()
            return
        if not self.granted.done() and self.machine.state is PipelineState.OPEN:
            self.granted.set_result(True)
        for reply in replies:
            waiter = self.waiters.popleft()
            self.sent_at.popleft()
            if not waiter.done():
                waiter.set_result(reply)

    def eof_received(self) -> bool | None:
        stopped_at = self.machine.in_flight[0] if self.machine.in_flight else None
        try:
            self.machine.receive_eof()
        except VTPError:
            detail = "the broker closed the connection without an ack or nak for this event"
            self._fail_all(ClosedWithoutReply(detail, peer=self.machine.peer, ivorn=stopped_at),
                           resend_rest=True)  # fmt: skip
        if not self.granted.done():
            self.granted.set_result(False)
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.granted.done():
            self.granted.set_result(False)
        gone = ClosedWithoutReply("connection lost before ack or nak", peer=self.machine.peer)
        self._fail_all(gone, resend_rest=True)
        if not self.lost.done():
            self.lost.set_result(None)

    def abort(self) -> None:
        """Drop the connection at once."""
        if self.transport is not None:
            self.transport.abort()

    def _fail_all(self, error: Exception, *, resend_rest: bool = False) -> None:
        """Fail every waiter with ``error``; or only the oldest, the rest to be sent again."""
        self.sent_at.clear()
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_exception(error)
            if resend_rest:
                error = NotRead()

    async def finish(self, timeout: float) -> None:  # noqa: ASYNC109
        """Half-close once every verdict is in (or ``timeout`` passed), then wait for the close."""
        assert self.transport is not None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await asyncio.gather(*self.waiters, return_exceptions=True)
                if self.transport.can_write_eof() and not self.transport.is_closing():
                    self.transport.write_eof()
                await asyncio.shield(self.lost)
        self.transport.close()

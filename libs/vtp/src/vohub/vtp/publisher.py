"""Publishing to a broker's receive port: one event per connection, or pipelined where granted.

:func:`publish` is plain VTP, as Comet expects: connect, send one event, read the ack or nak,
close. :class:`Publisher` sends many: it asks the broker once for pipelining
(:mod:`vohub.vtp.pipeline`) and, where granted, keeps one connection with up to ``window``
events in flight; where not (Comet), it falls back to :func:`publish` per event. Protocol
decisions live in the sans-IO machines; this module connects, moves bytes and keeps time.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from types import TracebackType
from typing import Self, cast

from vohub.common.addresses import Address
from vohub.vtp.author import AuthorConnection
from vohub.vtp.errors import BrokerUnreachable, ClosedWithoutReply, ReplyTimeout, VTPError
from vohub.vtp.framing import COMET_MAX_FRAME_SIZE
from vohub.vtp.messages import Ack, Nak
from vohub.vtp.pipeline import ANONYMOUS_AUTHOR, PipelinedAuthor, PipelineState

#: Bytes asked of the socket per read.
READ_SIZE = 65536


async def publish(
    host: str,
    port: int,
    packet: bytes,
    *,
    timeout: float = 20.0,  # noqa: ASYNC109 (one deadline for connect, send and reply)
    max_send_size: int = COMET_MAX_FRAME_SIZE,
) -> Ack | Nak:
    """Send one VOEvent to a broker's receive port and return its verdict.

    One connection per event, as Comet expects; the broker closes it after replying.

    Parameters
    ----------
    host, port
        The broker's receive port (Comet's default is 8098).
    packet
        The VOEvent, sent byte for byte.
    timeout
        Seconds for the whole exchange (Comet itself gives an author 20 s).
    max_send_size
        Largest packet sent (Comet hangs up on frames over 99 999 bytes).

    Returns
    -------
    Ack or Nak
        ``Nak.reason`` holds the broker's explanation.

    Raises
    ------
    InvalidOutgoingEvent, OutgoingFrameTooLarge
        Before connecting, if the packet cannot be sent.
    BrokerUnreachable
        If connecting, writing or reading fails.
    ClosedWithoutReply
        If the broker hangs up without ack or nak.
    ReplyTimeout
        If no verdict arrives within ``timeout``.

    Examples
    --------
    >>> packet = b'<VOEvent role="test" ivorn="ivo://a/b#1"/>'
    >>> asyncio.run(publish("127.0.0.1", 1, packet))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    vohub.vtp.errors.BrokerUnreachable: cannot reach the broker: ... (peer=127.0.0.1:1, ...)
    """
    peer = str(Address(host, port))
    author = AuthorConnection(peer=peer, max_send_size=max_send_size)
    author.send(packet)
    try:
        async with asyncio.timeout(timeout):
            return await _submit(host, port, author)
    except TimeoutError:
        raise ReplyTimeout(
            f"no ack or nak within {timeout:g} s", peer=peer, ivorn=author.ivorn
        ) from None
    except OSError as exc:
        raise BrokerUnreachable(
            f"cannot reach the broker: {exc}", peer=peer, ivorn=author.ivorn
        ) from exc


async def _submit(host: str, port: int, author: AuthorConnection) -> Ack | Nak:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(author.data_to_send())
        await writer.drain()
        while True:
            data = await reader.read(READ_SIZE)
            if not data:
                author.receive_eof()  # raises ClosedWithoutReply
            reply = author.receive_data(data)
            if reply is not None:
                return reply
    finally:
        await close_writer(writer)


async def close_writer(writer: asyncio.StreamWriter) -> None:
    """Close a stream, ignoring a peer that is already gone.

    >>> async def demo() -> bool:
    ...     async with await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0) as srv:
    ...         _, writer = await asyncio.open_connection(*srv.sockets[0].getsockname())
    ...         await close_writer(writer)
    ...     return writer.is_closing()
    >>> asyncio.run(demo())
    True
    """
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


class Publisher:
    """Publish many events to one broker, pipelined on one connection where the broker agrees.

    Use it as an async context manager and call :meth:`publish` from any number of tasks:
    verdicts come back to each caller; on a pipelined connection at most ``window`` events
    are in flight and events are judged in the order they were sent. ``pipelined`` says what
    the broker answered (None before the first connection). Without a grant, each event gets
    a connection of its own, ``fallback_concurrency`` at a time (1 by default: Comet's dedup
    is not atomic across concurrent connections).

    Examples
    --------
    >>> async def demo() -> None:
    ...     async with Publisher("127.0.0.1", 1) as publisher:
    ...         await publisher.publish(b'<VOEvent role="test" ivorn="ivo://a/b#1"/>')
    >>> asyncio.run(demo())  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    vohub.vtp.errors.BrokerUnreachable: cannot reach the broker: ... (peer=127.0.0.1:1)
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        window: int = 64,
        timeout: float = 20.0,
        pipelining: bool = True,
        fallback_concurrency: int = 1,
        local_ivo: str = ANONYMOUS_AUTHOR,
        max_send_size: int = COMET_MAX_FRAME_SIZE,
    ) -> None:
        self.host, self.port, self.peer = host, port, str(Address(host, port))
        self.timeout = timeout
        self.local_ivo = local_ivo
        self.max_send_size = max_send_size
        self.pipelined: bool | None = None if pipelining else False
        self._window = asyncio.Semaphore(window)
        self._fallback = asyncio.Semaphore(fallback_concurrency)
        self._link: _Link | None = None
        self._connecting = asyncio.Lock()

    async def connect(self) -> bool:
        """Open the pipelined connection now (or learn there is none); return ``pipelined``.

        Raises
        ------
        BrokerUnreachable, ReplyTimeout
            If the broker cannot be reached or does not answer the request in time.

        Examples
        --------
        >>> async def demo() -> bool:
        ...     async def comet(reader, writer):  # as Comet: hangs up on a Transport message
        ...         await reader.read(READ_SIZE)
        ...         await close_writer(writer)
        ...     async with await asyncio.start_server(comet, "127.0.0.1", 0) as server:
        ...         async with Publisher(*server.sockets[0].getsockname()) as publisher:
        ...             return await publisher.connect()
        >>> asyncio.run(demo())
        False
        """
        async with self._connecting:
            if self.pipelined is False or (self._link is not None and self._link.usable):
                return bool(self.pipelined)
            try:
                async with asyncio.timeout(self.timeout):
                    self._link = await self._open()
                    self.pipelined = await self._link.granted
            except TimeoutError:
                raise ReplyTimeout("no answer to the pipelining request", peer=self.peer) from None
            except OSError as exc:
                raise BrokerUnreachable(f"cannot reach the broker: {exc}", peer=self.peer) from exc
            return self.pipelined

    async def _open(self) -> _Link:
        machine = PipelinedAuthor(
            now=time.time(), local_ivo=self.local_ivo, peer=self.peer,
            max_send_size=self.max_send_size,
        )  # fmt: skip
        loop = asyncio.get_running_loop()
        _, link = await loop.create_connection(
            lambda: _Link(machine, self.timeout), self.host, self.port
        )
        return link

    async def publish(self, packet: bytes) -> Ack | Nak:
        """Send one VOEvent and return its verdict (see :func:`publish` for the errors).

        >>> from vohub.vtp.receiver import ReceiverConnection
        >>> async def demo() -> Ack | Nak:
        ...     async def comet(reader, writer):  # one event per connection: ack, hang up
        ...         conn = ReceiverConnection(local_ivo="ivo://hub/b", now=0.0)
        ...         conn.receive_data(await reader.read(READ_SIZE))
        ...         conn.accept(now=0.0)
        ...         writer.write(conn.data_to_send())
        ...         await close_writer(writer)
        ...     async with await asyncio.start_server(comet, "127.0.0.1", 0) as server:
        ...         async with Publisher(*server.sockets[0].getsockname(), pipelining=False) as p:
        ...             return await p.publish(b'<VOEvent role="test" ivorn="ivo://a/b#1"/>')
        >>> asyncio.run(demo())
        Ack(ivorn='ivo://a/b#1', response='ivo://hub/b', timestamp='1970-01-01T00:00:00Z')
        """
        async with self._window:
            link = await self._usable_link()
            if link is None:
                async with self._fallback:
                    return await publish(
                        self.host, self.port, packet,
                        timeout=self.timeout, max_send_size=self.max_send_size,
                    )  # fmt: skip
            return await link.send(packet)

    async def _usable_link(self) -> _Link | None:
        link = self._link
        if link is not None and link.usable:
            return link
        return self._link if await self.connect() else None

    async def aclose(self) -> None:
        """Finish: tell the broker we are done, and close once it has answered everything.

        >>> from vohub.vtp.receiver import ReceiverConnection
        >>> async def demo() -> list[bytes]:
        ...     async def broker(reader, writer):  # grants pipelining, reads to the author's EOF
        ...         conn = ReceiverConnection(local_ivo="ivo://b/x", now=0, allow_pipelining=True)
        ...         conn.receive_events(await reader.read(READ_SIZE), now=0.0)
        ...         writer.write(conn.data_to_send())
        ...         seen.append(await reader.read())
        ...         await close_writer(writer)
        ...     seen: list[bytes] = []
        ...     async with await asyncio.start_server(broker, "127.0.0.1", 0) as server:
        ...         publisher = Publisher(*server.sockets[0].getsockname())
        ...         await publisher.connect()
        ...         await publisher.aclose()
        ...     return seen
        >>> asyncio.run(demo())
        [b'']
        """
        if self._link is not None:
            await self._link.finish(self.timeout)
            self._link = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class _Link(asyncio.Protocol):
    """One pipelined connection: writes events, hands each verdict to its waiter, in order.

    One watchdog per connection, not a timer per event: when the oldest event in flight has
    waited ``timeout`` seconds, every waiter fails with ReplyTimeout and the connection is
    dropped (replies come in order, so nothing behind it could be answered first).
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
        if self.transport is not None:
            self.transport.abort()

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
            assert self.transport is not None
            self.transport.abort()
            return
        if not self.granted.done() and self.machine.state is PipelineState.OPEN:
            self.granted.set_result(True)
        for reply in replies:
            waiter = self.waiters.popleft()
            self.sent_at.popleft()
            if not waiter.done():
                waiter.set_result(reply)

    def eof_received(self) -> bool | None:
        try:
            self.machine.receive_eof()
        except VTPError as exc:
            self._fail_all(exc)
        if not self.granted.done():
            self.granted.set_result(False)
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.granted.done():
            self.granted.set_result(False)
        gone = ClosedWithoutReply("connection lost before ack or nak", peer=self.machine.peer)
        self._fail_all(gone)
        if not self.lost.done():
            self.lost.set_result(None)

    def _fail_all(self, error: VTPError) -> None:
        self.sent_at.clear()
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_exception(error)

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

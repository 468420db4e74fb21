"""Thin asyncio client for VTP: publish events to a broker, or follow a broker as a subscriber.

All protocol decisions live in the sans-IO state machines (:mod:`vohub.vtp.author`,
:mod:`vohub.vtp.pipeline`, :mod:`vohub.vtp.subscriber`); this module and
:mod:`vohub.vtp.publisher` (:func:`publish`, :class:`Publisher`) only connect, move bytes,
apply deadlines and reconnect.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Self

from vohub.common.addresses import Address
from vohub.common.logs import get_logger
from vohub.vtp.backoff import Backoff
from vohub.vtp.errors import PeerSilent, VTPError
from vohub.vtp.filters import compile_filters
from vohub.vtp.framing import DEFAULT_MAX_FRAME_SIZE
from vohub.vtp.messages import Authenticate, Event, IAmAlive, Unreadable
from vohub.vtp.publisher import READ_SIZE, Publisher, close_writer, publish
from vohub.vtp.subscriber import DEFAULT_IDLE_TIMEOUT, SubscriberConnection

__all__ = ["Publisher", "Subscription", "publish", "subscribe"]

log = get_logger("vohub.vtp.client")


def subscribe(
    host: str,
    port: int,
    *,
    filters: Sequence[str] = (),
    local_ivo: str | None = None,
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
    connect_timeout: float = 10.0,
    backoff: Backoff | None = None,
    max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
    buffer: int = 1000,
) -> Subscription:
    """Follow a broker's broadcast port; iterate the result for events, forever.

    Every event is acked before it is yielded, ``iamalive`` is answered, and ``filters`` go to
    the broker in the reply to its ``authenticate`` (Comet's way). After an error, the broker
    closing, or ``idle_timeout`` seconds without a message, it reconnects with exponential
    backoff and jitter (Comet's schedule: 1 s, x e, up to 1 h), logging one warning per
    connection lost (``vtp.subscribe.lost``, with the reason) or attempt failed
    (``vtp.subscribe.connect_failed``) before each ``vtp.subscribe.retry``. Events are not
    replayed across reconnections, by VTP's design. Reading runs in a background task, so a
    slow loop body does not delay iamalive replies; up to ``buffer`` acked events wait for the
    consumer, then reading pauses.

    Parameters
    ----------
    host, port
        The broker's broadcast port (Comet's default is 8099).
    filters
        XPath filters for the broker to apply (checked here first).
    local_ivo
        Our IVOID, sent as ``Response`` (optional).
    idle_timeout
        Seconds of silence before reconnecting (Comet: 120).
    connect_timeout
        Seconds allowed per connection attempt.
    backoff
        Reconnection schedule (default :class:`~vohub.vtp.backoff.Backoff`).
    max_frame_size
        Largest frame accepted from the broker.
    buffer
        Events held for a slow consumer before reading pauses.

    Raises
    ------
    InvalidFilter
        At once, naming the first filter that does not compile.

    Examples
    --------
    >>> subscribe("127.0.0.1", 8099, filters=["//[bad"])
    Traceback (most recent call last):
    ...
    vohub.vtp.errors.InvalidFilter: invalid XPath filter '//[bad': Invalid expression
    """
    compile_filters(filters)
    return Subscription(
        host,
        port,
        filters=tuple(filters),
        local_ivo=local_ivo,
        idle_timeout=idle_timeout,
        connect_timeout=connect_timeout,
        backoff=backoff or Backoff(),
        max_frame_size=max_frame_size,
        buffer=buffer,
    )


class Subscription:
    """A live subscription: an async iterator of :class:`~vohub.vtp.messages.Event` and a context.

    Use :func:`subscribe` to create one. A background task (started by the first ``__anext__``)
    reads, answers and acks; events wait in a bounded buffer until consumed. ``connections``
    counts connections made, ``iamalives`` the broker pings answered; ``ready`` is set while the
    current connection has received the broker's ``authenticate`` (so the broker has registered
    us), and cleared when it ends. :meth:`aclose` may be called from any task.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        filters: tuple[str, ...],
        local_ivo: str | None,
        idle_timeout: float,
        connect_timeout: float,
        backoff: Backoff,
        max_frame_size: int,
        buffer: int = 1000,
    ) -> None:
        self.host, self.port, self.peer = host, port, str(Address(host, port))
        self.filters = filters
        self.local_ivo = local_ivo
        self.idle_timeout = idle_timeout
        self.connect_timeout = connect_timeout
        self.backoff = backoff
        self.max_frame_size = max_frame_size
        self.connections = 0
        self.iamalives = 0
        self.ready = asyncio.Event()
        self._queue: asyncio.Queue[Event] = asyncio.Queue(buffer)
        self._closed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start connecting now rather than at the first ``__anext__`` (needs a running loop).

        >>> from vohub.vtp.broadcaster import BroadcastConnection
        >>> async def demo() -> int:
        ...     async def broker(reader, writer):  # greets, then waits for the hang-up
        ...         writer.write(BroadcastConnection(local_ivo="ivo://b/x", now=0).data_to_send())
        ...         await reader.read()
        ...         writer.close()
        ...     async with await asyncio.start_server(broker, "127.0.0.1", 0) as server:
        ...         subscription = subscribe(*server.sockets[0].getsockname())
        ...         subscription.start()
        ...         await subscription.ready.wait()  # the broker's authenticate arrived
        ...         await subscription.aclose()
        ...     return subscription.connections
        >>> asyncio.run(demo())
        1
        """
        if self._task is None and not self._closed.is_set():
            self._task = asyncio.create_task(self._run(), name=f"vtp-subscribe-{self.peer}")

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Event:
        self.start()
        if not self._queue.empty():
            return self._queue.get_nowait()
        if self._closed.is_set() or self._task is None:
            raise StopAsyncIteration
        get = asyncio.ensure_future(self._queue.get())
        closed = asyncio.ensure_future(self._closed.wait())
        try:
            await asyncio.wait({get, closed, self._task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in (get, closed):
                waiter.cancel()
        if get.done() and not get.cancelled():
            return get.result()
        if self._task.done() and not self._task.cancelled():
            self._task.result()  # re-raise a bug in the reader rather than hang
        raise StopAsyncIteration

    async def aclose(self) -> None:
        """Stop reading, close the connection, and end every pending iteration.

        >>> async def demo() -> list[Event]:
        ...     subscription = subscribe("127.0.0.1", 1)  # nobody there: it would retry forever
        ...     subscription.start()
        ...     await subscription.aclose()
        ...     return [event async for event in subscription]
        >>> asyncio.run(demo())
        []
        """
        self._closed.set()
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task})  # unlike awaiting it, never eats our own cancel

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _run(self) -> None:
        # One warning per connection that ends (vtp.subscribe.lost, with the reason), one per
        # attempt that fails (vtp.subscribe.connect_failed), then one vtp.subscribe.retry.
        while True:
            try:
                async with asyncio.timeout(self.connect_timeout):
                    reader, writer = await asyncio.open_connection(self.host, self.port)
            except TimeoutError:
                error = f"no connection within {self.connect_timeout:g} s"
                log.warning("vtp.subscribe.connect_failed", peer=self.peer, error=error)
            except OSError as exc:
                log.warning("vtp.subscribe.connect_failed", peer=self.peer, error=str(exc))
            else:
                reason = await self._connection(reader, writer)
                log.warning("vtp.subscribe.lost", peer=self.peer, reason=reason)
            delay = self.backoff.next_delay(time.time())
            log.info("vtp.subscribe.retry", peer=self.peer, delay_s=round(delay, 2))
            await asyncio.sleep(delay)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> str:
        """Follow the broker on this connection until it ends; why it ended."""
        self.connections += 1
        self.backoff.connected(time.time())
        log.info("vtp.subscribe.connected", peer=self.peer, connections=self.connections)
        machine = SubscriberConnection(
            local_ivo=self.local_ivo,
            filters=self.filters,
            now=time.time(),
            idle_timeout=self.idle_timeout,
            peer=self.peer,
            max_frame_size=self.max_frame_size,
        )
        try:
            await self._pump(reader, writer, machine)
        except (VTPError, OSError) as exc:  # OSError: a reset, or a timeout while writing
            return str(exc) or type(exc).__name__
        finally:
            self.ready.clear()
            await close_writer(writer)
        return "closed by the broker"

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        machine: SubscriberConnection,
    ) -> None:
        while data := await self._read(reader, machine):
            received = machine.receive_data(data, time.time())
            writer.write(machine.data_to_send())
            await writer.drain()
            for message in received:
                if isinstance(message, Event):
                    await self._queue.put(message)
                else:
                    self._note(message)
        machine.receive_eof()

    async def _read(self, reader: asyncio.StreamReader, machine: SubscriberConnection) -> bytes:
        try:
            async with asyncio.timeout(max(0.0, machine.deadline - time.time())):
                return await reader.read(READ_SIZE)
        except TimeoutError:
            raise PeerSilent(
                f"no message for {self.idle_timeout:g} s; reconnecting", peer=self.peer
            ) from None

    def _note(self, message: object) -> None:
        if isinstance(message, Authenticate):
            self.ready.set()
            log.info("vtp.subscribe.authenticated", peer=self.peer)
        elif isinstance(message, IAmAlive):
            self.iamalives += 1
            log.debug("vtp.subscribe.iamalive", peer=self.peer)
        elif isinstance(message, Unreadable):
            log.warning("vtp.subscribe.unreadable", peer=self.peer, error=str(message.error))
        else:
            log.warning("vtp.subscribe.unexpected", peer=self.peer, message=repr(message))

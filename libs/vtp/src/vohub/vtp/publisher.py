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
from types import TracebackType
from typing import Self

from vohub.common.addresses import Address
from vohub.vtp._pipelined_link import NotRead, PipelinedLink
from vohub.vtp.author import AuthorConnection
from vohub.vtp.errors import BrokerUnreachable, ReplyTimeout
from vohub.vtp.framing import COMET_MAX_FRAME_SIZE
from vohub.vtp.messages import Ack, Nak
from vohub.vtp.pipeline import ANONYMOUS_AUTHOR, PipelinedAuthor

#: Bytes asked of the socket per read.
READ_SIZE = 65536
#: Seconds a broker has to answer the pipelining request. Comet hangs up on it at once and a
#: vohub broker grants it at once; a broker that ignores it is given plain VTP after this.
GRANT_WAIT = 3.0


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
        self._link: PipelinedLink | None = None
        self._connecting = asyncio.Lock()

    async def connect(self) -> bool:
        """Open the pipelined connection now (or learn there is none); return ``pipelined``.

        Raises
        ------
        BrokerUnreachable
            If the broker cannot be reached. A broker that neither grants nor refuses
            pipelining within :data:`GRANT_WAIT` seconds is taken as one that refuses it.

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
                    link = await self._open()
            except TimeoutError:
                detail = f"cannot reach the broker: no connection within {self.timeout:g} s"
                raise BrokerUnreachable(detail, peer=self.peer) from None
            except OSError as exc:
                raise BrokerUnreachable(f"cannot reach the broker: {exc}", peer=self.peer) from exc
            try:
                async with asyncio.timeout(min(self.timeout, GRANT_WAIT)):
                    self.pipelined = await link.granted
            except TimeoutError:  # a broker that ignores the request: plain VTP, as for Comet
                link.abort()
                self.pipelined = False
            else:
                self._link = link
            return self.pipelined

    async def _open(self) -> PipelinedLink:
        machine = PipelinedAuthor(
            now=time.time(), local_ivo=self.local_ivo, peer=self.peer,
            max_send_size=self.max_send_size,
        )  # fmt: skip
        loop = asyncio.get_running_loop()
        _, link = await loop.create_connection(
            lambda: PipelinedLink(machine, self.timeout), self.host, self.port
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
            while True:
                link = await self._usable_link()
                if link is None:
                    async with self._fallback:
                        return await publish(
                            self.host, self.port, packet,
                            timeout=self.timeout, max_send_size=self.max_send_size,
                        )  # fmt: skip
                try:
                    return await link.send(packet)
                except NotRead:  # the broker hung up on an event sent before this one
                    continue

    async def _usable_link(self) -> PipelinedLink | None:
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

"""Plumbing shared by the role state machines: inbound frame decoding, outbound byte buffer."""

from __future__ import annotations

from collections.abc import Iterator

from vohub.vtp.errors import MalformedMessage, UnknownMessage
from vohub.vtp.framing import FrameDecoder, encode_frame
from vohub.vtp.messages import Message, Unreadable, decode, encode


class Endpoint:
    """One side of one VTP connection, without the socket: bytes in, messages out, and back.

    Subclasses add the role's states. The edge calls ``receive_data`` with what it read, then
    writes whatever :meth:`data_to_send` returns.
    """

    def __init__(self, *, peer: str | None, max_frame_size: int, max_send_size: int) -> None:
        self.peer = peer
        self.max_send_size = max_send_size
        self._decoder = FrameDecoder(max_frame_size, peer=peer)
        self._outbox: list[bytes] = []

    def data_to_send(self) -> bytes:
        """Take the bytes queued for the peer (possibly empty); the edge must write them in order.

        Examples
        --------
        >>> endpoint = Endpoint(peer=None, max_frame_size=10, max_send_size=10)
        >>> endpoint.data_to_send()
        b''
        """
        outbox = self._outbox
        if len(outbox) == 1:
            return outbox.pop()
        data = b"".join(outbox)
        outbox.clear()
        return data

    def chunks_to_send(self) -> list[bytes]:
        """Take the queued bytes as a list of chunks (for a ``writelines``: no joined copy).

        Examples
        --------
        >>> endpoint = Endpoint(peer=None, max_frame_size=10, max_send_size=10)
        >>> endpoint._queue_frame(b"ab"); endpoint._queue_frame(b"c")
        >>> endpoint.chunks_to_send(), endpoint.data_to_send()
        ([b'ab', b'c'], b'')
        """
        chunks, self._outbox = self._outbox, []
        return chunks

    def _queue(self, message: Message, now: float) -> None:
        self._outbox.append(encode_frame(encode(message, now), self.max_send_size, peer=self.peer))

    def _queue_frame(self, frame: bytes) -> None:
        """Queue bytes that are already a frame (one event framed once for many peers)."""
        self._outbox.append(frame)

    def _message(self, payload: bytes) -> Message:
        """One frame's message (a role may read events more cheaply)."""
        return decode(payload)

    def _frames(self, data: bytes) -> Iterator[Message | Unreadable]:
        """Decode every complete frame in ``data``; unreadable ones become :class:`Unreadable`."""
        self._decoder.feed(data)
        for payload in self._decoder:
            try:
                yield self._message(payload)
            except (MalformedMessage, UnknownMessage) as exc:
                named = type(exc)(exc.detail, peer=self.peer, ivorn=exc.ivorn)
                yield Unreadable(payload, named)

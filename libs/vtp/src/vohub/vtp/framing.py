"""VTP framing: a 4-byte unsigned big-endian length, then exactly that many payload bytes.

The length does not count the prefix and there is no terminator. Every Comet protocol reads
frames with Twisted's ``Int32StringReceiver``, whose limit is :data:`COMET_MAX_FRAME_SIZE`
(99 999 bytes): Comet closes the connection, with no ``nak``, as soon as a longer prefix arrives,
so a Comet author loses the event and a Comet subscriber loses it and reconnects. Hence two
defaults:

* outgoing frames (:func:`encode_frame`) default to :data:`COMET_MAX_FRAME_SIZE`, so we never
  send a frame a Comet peer would hang up on;
* incoming frames (:class:`FrameDecoder`) default to :data:`DEFAULT_MAX_FRAME_SIZE` (1 MiB),
  accepting at least what Comet accepts. A little-endian prefix (``e6 1b 00 00`` for 7 142)
  reads as 3 860 529 152 and is rejected by either limit.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from vohub.vtp.errors import FrameTooLarge, OutgoingFrameTooLarge, TruncatedFrame

#: Twisted's ``Int32StringReceiver.MAX_LENGTH``, which Comet 3.1.0 inherits unchanged.
COMET_MAX_FRAME_SIZE = 99_999
#: Default limit for frames we read: 1 MiB.
DEFAULT_MAX_FRAME_SIZE = 1 << 20
#: Size of the length prefix in bytes.
PREFIX_SIZE = 4

_PREFIX = struct.Struct(">I")


def encode_frame(
    payload: bytes, max_size: int = COMET_MAX_FRAME_SIZE, *, peer: str | None = None
) -> bytes:
    """Frame ``payload`` for the wire.

    Parameters
    ----------
    payload
        The message bytes (a Transport message or a VOEvent), sent unchanged.
    max_size
        Largest payload allowed; defaults to Comet's 99 999-byte limit.
    peer
        Named in the error if the payload is too large.

    Returns
    -------
    bytes
        The 4-byte big-endian length followed by ``payload``.

    Raises
    ------
    OutgoingFrameTooLarge
        If ``len(payload) > max_size``.

    Examples
    --------
    >>> encode_frame(b"<a/>")
    b'\\x00\\x00\\x00\\x04<a/>'
    >>> encode_frame(b"x" * 100_000)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    vohub.vtp.errors.OutgoingFrameTooLarge: payload of 100000 bytes exceeds ... of 99999 bytes
    """
    if len(payload) > max_size:
        raise OutgoingFrameTooLarge(len(payload), max_size, peer=peer)
    return _PREFIX.pack(len(payload)) + payload


class FrameDecoder:
    """Incremental frame decoder: feed it bytes as they arrive, iterate it for whole payloads.

    It survives frames split over many reads and several frames merged into one read. A length
    prefix above ``max_size`` raises :class:`~vohub.vtp.errors.FrameTooLarge` as soon as the four
    prefix bytes are in, without waiting for the payload; after that the decoder is poisoned and
    raises the same error again, since the byte stream can no longer be trusted.

    Parameters
    ----------
    max_size
        Largest payload accepted, default :data:`DEFAULT_MAX_FRAME_SIZE` (1 MiB). Comet's own
        limit is :data:`COMET_MAX_FRAME_SIZE` (99 999 bytes).
    peer
        Named in errors.

    Examples
    --------
    >>> decoder = FrameDecoder()
    >>> decoder.feed(b"\\x00\\x00\\x00\\x02hi\\x00\\x00")
    >>> list(decoder)
    [b'hi']
    >>> decoder.feed(b"\\x00\\x01!")
    >>> list(decoder)
    [b'!']
    """

    def __init__(self, max_size: int = DEFAULT_MAX_FRAME_SIZE, *, peer: str | None = None) -> None:
        self.max_size = max_size
        self.peer = peer
        self._buffer = bytearray()
        self._error: FrameTooLarge | None = None

    def feed(self, data: bytes) -> None:
        """Append received bytes; complete frames are then available by iteration.

        Parameters
        ----------
        data
            Bytes just read from the connection (any size, including empty).

        Examples
        --------
        >>> decoder = FrameDecoder()
        >>> decoder.feed(b"\\x00\\x00")
        >>> decoder.pending
        2
        """
        self._buffer += data

    @property
    def pending(self) -> int:
        """Number of buffered bytes that do not yet form a complete frame (or are not yet read).

        >>> decoder = FrameDecoder()
        >>> decoder.feed(b"\\x00\\x00\\x00\\x01!\\x00")
        >>> decoder.pending, decoder.next_frame(), decoder.pending
        (6, b'!', 1)
        """
        return len(self._buffer)

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        payload = self.next_frame()
        if payload is None:
            raise StopIteration
        return payload

    def next_frame(self) -> bytes | None:
        """Return the next complete payload, or ``None`` if more bytes are needed.

        Raises
        ------
        FrameTooLarge
            If the next prefix announces more than ``max_size`` bytes.

        Examples
        --------
        >>> decoder = FrameDecoder(max_size=10)
        >>> decoder.feed(b"\\x00\\x00\\x00\\x0b")
        >>> decoder.next_frame()
        Traceback (most recent call last):
        ...
        vohub.vtp.errors.FrameTooLarge: frame length 11 exceeds the limit of 10 bytes
        """
        if self._error is not None:
            raise self._error
        if len(self._buffer) < PREFIX_SIZE:
            return None
        (size,) = _PREFIX.unpack_from(self._buffer)
        if size > self.max_size:
            self._error = FrameTooLarge(size, self.max_size, peer=self.peer)
            raise self._error
        end = PREFIX_SIZE + size
        if len(self._buffer) < end:
            return None
        payload = bytes(self._buffer[PREFIX_SIZE:end])
        del self._buffer[:end]
        return payload

    def frames(self) -> list[bytes]:
        """Every complete payload buffered, in order (one pass; the same checks as iteration).

        Raises
        ------
        FrameTooLarge
            If a prefix announces more than ``max_size`` bytes (the frames before it are
            consumed and lost with the connection, which must be dropped).

        Examples
        --------
        >>> decoder = FrameDecoder()
        >>> decoder.feed(b"\\x00\\x00\\x00\\x01a\\x00\\x00\\x00\\x02bc\\x00")
        >>> decoder.frames(), decoder.pending
        ([b'a', b'bc'], 1)
        """
        if self._error is not None:
            raise self._error
        buffer, out, pos, end = self._buffer, [], 0, len(self._buffer)
        unpack, limit = _PREFIX.unpack_from, self.max_size
        try:
            while end - pos >= PREFIX_SIZE:
                (size,) = unpack(buffer, pos)
                if size > limit:
                    self._error = FrameTooLarge(size, limit, peer=self.peer)
                    raise self._error
                stop = pos + PREFIX_SIZE + size
                if stop > end:
                    break
                out.append(bytes(buffer[pos + PREFIX_SIZE : stop]))
                pos = stop
        finally:
            del buffer[:pos]
        return out

    def close(self) -> None:
        """Declare end of stream: fine between frames, an error inside one.

        Raises
        ------
        TruncatedFrame
            If a partial frame (or prefix) is buffered.

        Examples
        --------
        >>> decoder = FrameDecoder()
        >>> decoder.feed(b"\\x00\\x00\\x00\\x05abc")
        >>> decoder.close()
        Traceback (most recent call last):
        ...
        vohub.vtp.errors.TruncatedFrame: connection closed after 3 of 5 bytes of a frame
        """
        if self._error is not None or not self._buffer:
            return
        if len(self._buffer) < PREFIX_SIZE:
            raise TruncatedFrame(len(self._buffer), PREFIX_SIZE, peer=self.peer)
        (size,) = _PREFIX.unpack_from(self._buffer)
        raise TruncatedFrame(len(self._buffer) - PREFIX_SIZE, size, peer=self.peer)

"""Read and write voeventdb dump tarballs: bzip2 tar files holding one ``.xml`` member per packet.

A member's path is, as voeventdb writes it, the IVORN without ``ivo://`` and with ``#``
turned into ``/``, plus ``.xml`` (see :func:`member_name` for the escaping that keeps every
name safe to extract and distinct); its contents are the stored bytes.  Readers take the
IVORN from the packet, never from the name.  Written members carry fixed metadata (mode
0644, owner 0, mtime 0) like the public dumps, so an export is reproducible byte for byte.
"""

from __future__ import annotations

import bz2
import contextlib
import io
import re
import tarfile
import urllib.parse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from vohub.archive.errors import TarballError

#: Characters a member name keeps as they are: RFC 3986's path characters but ``/`` and ``%``.
_KEPT = "-._~!$&'()*+,;=:@"
_PLAIN_SEGMENT = re.compile(rf"[A-Za-z0-9{re.escape(_KEPT)}]+")


def member_name(ivorn: str) -> str:
    """The member path of a packet in a dump: safe to extract, and one per IVORN.

    An ``ivo://STREAM#LOCAL_ID`` whose stream has only plain segments (not empty, ``.`` or
    ``..``; letters, digits and ``-._~!$&'()*+,;=:@``) keeps voeventdb's layout,
    ``STREAM/LOCAL_ID.xml``, its local id percent-encoded (``/`` and ``%`` included) when
    needed.  Any other IVORN becomes one percent-encoded name with no ``/``.  So a name never
    starts with ``/`` nor holds an empty, ``.`` or ``..`` segment, and distinct IVORNs give
    distinct names: a name with a ``/`` is of the first kind, its last ``/`` standing for ``#``.

    >>> member_name("ivo://nasa.gsfc.gcn/SWIFT#BAT_GRB_Pos_655721-214")
    'nasa.gsfc.gcn/SWIFT/BAT_GRB_Pos_655721-214.xml'
    >>> member_name("ivo://a.b/c#d/e"), member_name("ivo://a.b/c/d#e")
    ('a.b/c/d%2Fe.xml', 'a.b/c/d/e.xml')
    >>> member_name("ivo://ex.org/x#../../../escaped")
    'ex.org/x/..%2F..%2F..%2Fescaped.xml'
    >>> member_name("ivo://ex.org/../x#1"), member_name("ivo://ex.org/x")
    ('ivo:%2F%2Fex.org%2F..%2Fx%231.xml', 'ivo:%2F%2Fex.org%2Fx.xml')
    """
    scheme, _, rest = ivorn.partition("//")
    stream, sep, local_id = rest.partition("#")
    if (
        scheme == "ivo:"
        and sep
        and all(_PLAIN_SEGMENT.fullmatch(s) and s not in (".", "..") for s in stream.split("/"))
    ):
        return f"{stream}/{urllib.parse.quote(local_id, safe=_KEPT)}.xml"
    return f"{urllib.parse.quote(ivorn, safe=_KEPT)}.xml"


@dataclass(frozen=True, slots=True)
class Member:
    """One packet read from a dump, and how far into the compressed file the reader was."""

    name: str
    data: bytes
    position: int
    #: Why the packet is invalid without parsing it ("" to parse it).
    refused: str = ""


def read(path: Path) -> Iterator[Member]:
    """The ``.xml`` members of the dump at ``path``, in archive order.

    Raises
    ------
    TarballError
        The file is missing, not bzip2 or not a tar archive (names the file).
    """
    try:
        with path.open("rb") as raw:
            unzipped = _Unzipped(raw)
            yield from _members(path, unzipped)
    except (OSError, EOFError, tarfile.TarError) as error:
        raise TarballError(str(path), f"cannot read dump: {error}") from None


def _members(path: Path, unzipped: _Unzipped) -> Iterator[Member]:
    # tarfile's seekable mode on a forward-only stream: it only ever seeks ahead (header,
    # then data, then the next header), and skips the block-by-block copying of "r|".
    with tarfile.open(fileobj=unzipped, mode="r:") as archive:  # type: ignore[call-overload]
        for info in archive:
            if not (info.isfile() and info.name.endswith(".xml")):
                continue
            handle = archive.extractfile(info)
            if handle is None:
                raise TarballError(str(path), f"member {info.name} has no contents")
            yield Member(info.name, handle.read(), unzipped.consumed)


class _Unzipped:
    """A bzip2 file decompressed on demand in large chunks; reads and forward seeks only.

    Multi-stream files (as ``pbzip2`` writes) are read through, as :mod:`bz2` does.

    >>> import bz2, io
    >>> z = _Unzipped(io.BytesIO(bz2.compress(b"abc") + bz2.compress(b"def")))
    >>> z.read(2), z.seek(3), z.read(10), z.tell()
    (b'ab', 3, b'def', 6)
    """

    CHUNK = 1 << 18

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.decompressor = bz2.BZ2Decompressor()
        self.buffer = b""
        self.start = 0  # stream offset of buffer[0]
        self.at = 0  # read position within buffer
        self.consumed = 0  # compressed bytes read so far
        self.ended = False
        self.fresh = True  # the current decompressor has been given no data yet

    def _fill(self, wanted: int) -> None:
        pieces = [self.buffer[self.at :]]
        have = len(pieces[0])
        self.start += self.at
        while have < wanted and not self.ended:
            piece = self._decompress_more()
            pieces.append(piece)
            have += len(piece)
        self.buffer, self.at = b"".join(pieces), 0

    def _decompress_more(self) -> bytes:
        if self.decompressor.eof:  # the next stream, if any, starts after this one's end
            rest = self.decompressor.unused_data
            self.decompressor = bz2.BZ2Decompressor()
            self.fresh = True
            if rest:
                self.fresh = False
                return self.decompressor.decompress(rest)
        data = self.raw.read(self.CHUNK)
        if not data:
            if not (self.fresh or self.decompressor.eof):
                raise EOFError("compressed file ended before the end-of-stream marker")
            self.ended = True
            return b""
        self.consumed += len(data)
        self.fresh = False
        return self.decompressor.decompress(data)

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (all that is left when negative)."""
        if size < 0:
            size = 1 << 62
        if len(self.buffer) - self.at < size:
            self._fill(size)
        data = self.buffer[self.at : self.at + size]
        self.at += len(data)
        return data

    def tell(self) -> int:
        """The position in the decompressed stream."""
        return self.start + self.at

    def seek(self, offset: int, whence: int = 0) -> int:
        """Move to ``offset`` (absolute, or relative with ``whence`` 1); never backwards."""
        target = offset if whence == 0 else self.tell() + offset
        if whence not in (0, 1) or target < self.tell():
            raise OSError(f"cannot seek back in a compressed stream (to {target})")
        while self.tell() < target:
            if not self.read(min(target - self.tell(), 1 << 22)):
                break
        return self.tell()


def write(path: Path | BinaryIO, packets: Iterable[tuple[str, bytes]]) -> int:
    """Write ``(ivorn, bytes)`` pairs as a dump at ``path`` (a file name, or a binary stream
    left open, such as standard output's); returns the number written.

    A dump to a file name is written as ``NAME.part`` beside it and renamed when complete,
    so a failed or interrupted export (disk full, Ctrl-C) leaves no truncated dump, and an
    earlier dump of that name as it was.  A name that is not a regular file (``/dev/null``,
    a pipe) is written directly.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     out = Path(tmp) / "d.tar.bz2"
    ...     n = write(out, [("ivo://a.b/c#1", b"<x/>")])
    ...     [(m.name, m.data) for m in read(out)]
    [('a.b/c/1.xml', b'<x/>')]
    """
    if not isinstance(path, Path):
        return _write(path, packets, str(getattr(path, "name", "<stream>")))
    if path.is_dir():
        raise TarballError(str(path), "cannot write dump: it is a folder")
    if path.exists() and not path.is_file():
        return _write(path, packets, str(path))
    partial = path.with_name(f"{path.name}.part")
    try:
        count = _write(partial, packets, str(path))
        partial.replace(path)
    except BaseException as error:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        if isinstance(error, OSError):  # the rename
            raise TarballError(str(path), f"cannot write dump: {error.strerror}") from None
        raise
    return count


def _write(target: Path | BinaryIO, packets: Iterable[tuple[str, bytes]], name: str) -> int:
    count = 0
    try:
        with (
            bz2.open(target, "wb") as zipped,
            tarfile.open(fileobj=zipped, mode="w|", format=tarfile.GNU_FORMAT) as archive,
        ):
            for ivorn, data in packets:
                archive.addfile(_info(member_name(ivorn), len(data)), io.BytesIO(data))
                count += 1
        if not isinstance(target, Path):
            target.flush()
    except OSError as error:
        raise TarballError(name, f"cannot write dump: {error.strerror or error}") from None
    return count


def _info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o644
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info

"""Read and write voeventdb dump tarballs: bzip2 tar files holding one ``.xml`` member per packet.

A member's path is the IVORN without ``ivo://`` and with ``#`` turned into ``/``, plus
``.xml``; its contents are the stored bytes.  Written members carry fixed metadata (mode
0644, owner 0, mtime 0) like the public dumps, so an export is reproducible byte for byte.
"""

from __future__ import annotations

import bz2
import io
import tarfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

from vohub.archive.errors import TarballError


def member_name(ivorn: str) -> str:
    """The member path of a packet in a dump.

    >>> member_name("ivo://nasa.gsfc.gcn/SWIFT#BAT_GRB_Pos_655721-214")
    'nasa.gsfc.gcn/SWIFT/BAT_GRB_Pos_655721-214.xml'
    """
    _, sep, rest = ivorn.partition("//")
    return (rest if sep else ivorn).replace("#", "/") + ".xml"


@dataclass(frozen=True, slots=True)
class Member:
    """One packet read from a dump, and how far into the compressed file the reader was."""

    name: str
    data: bytes
    position: int


def read(path: Path) -> Iterator[Member]:
    """The ``.xml`` members of the dump at ``path``, in archive order.

    Raises
    ------
    TarballError
        The file is missing, not bzip2 or not a tar archive (names the file).
    """
    try:
        with path.open("rb") as raw, bz2.open(raw) as unzipped:
            yield from _members(path, raw, unzipped)
    except (OSError, EOFError, tarfile.TarError) as error:
        raise TarballError(str(path), f"cannot read dump: {error}") from None


def _members(path: Path, raw: BinaryIO, unzipped: IO[bytes]) -> Iterator[Member]:
    with tarfile.open(fileobj=unzipped, mode="r|") as archive:
        for info in archive:
            if not (info.isfile() and info.name.endswith(".xml")):
                continue
            handle = archive.extractfile(info)
            if handle is None:
                raise TarballError(str(path), f"member {info.name} has no contents")
            yield Member(info.name, handle.read(), raw.tell())


def write(path: Path, packets: Iterable[tuple[str, bytes]]) -> int:
    """Write ``(ivorn, bytes)`` pairs as a dump at ``path``; returns the number written.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     out = Path(tmp) / "d.tar.bz2"
    ...     n = write(out, [("ivo://a.b/c#1", b"<x/>")])
    ...     [(m.name, m.data) for m in read(out)]
    [('a.b/c/1.xml', b'<x/>')]
    """
    count = 0
    try:
        with (
            bz2.open(path, "wb") as zipped,
            tarfile.open(fileobj=zipped, mode="w|", format=tarfile.GNU_FORMAT) as archive,
        ):
            for ivorn, data in packets:
                archive.addfile(_info(member_name(ivorn), len(data)), io.BytesIO(data))
                count += 1
    except OSError as error:
        raise TarballError(str(path), f"cannot write dump: {error}") from None
    return count


def _info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o644
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info

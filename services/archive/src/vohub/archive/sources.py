"""What ``vohub archive import`` reads: voeventdb dump tarballs, packet files, and folders of them.

A file is a dump when it is bzip2-compressed (it starts with ``BZh``) or named ``*.bz2``.
Any other file is one packet, as ``vohub listen --save`` and Comet's ``--save-event`` write
them (with or without an ``.xml`` suffix). A folder stands for every file under it, hidden
ones (``.name``) excepted, in name order.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from vohub.archive import tarballs
from vohub.archive.errors import TarballError
from vohub.archive.tarballs import Member
from vohub.voevent.errors import PacketTooLarge
from vohub.voevent.xmlsafe import MAX_BYTES

BZIP2_MAGIC = b"BZh"


def expand(paths: Sequence[Path]) -> list[Path]:
    """The files to import for ``paths`` (folders replaced by the files under them).

    Raises
    ------
    TarballError
        A path does not exist or is not a regular file or folder (a device, a pipe), or a
        folder holds no file (names the path).
    """
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and not _hidden(p, path))
            if not found:
                raise TarballError(str(path), "the folder holds no files to import")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        elif path.exists():
            raise TarballError(str(path), "not a regular file or folder")
        elif path.is_symlink():
            raise TarballError(str(path), "a symbolic link to nothing")
        else:
            raise TarballError(str(path), "no such file or folder")
    return files


def _hidden(path: Path, top: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(top).parts)


def read(path: Path) -> Iterator[Member]:
    """The packets in the file at ``path``: a dump's members, or the file itself.

    A packet file over the packet size cap is not read: its member is refused, naming its
    size, as ``vohub validate`` and ``ingest`` do.

    Raises
    ------
    TarballError
        The file cannot be read, or is a damaged dump (names the file).
    """
    try:
        with path.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            head = handle.read(len(BZIP2_MAGIC))
            dump = head == BZIP2_MAGIC or path.name.endswith(".bz2")
            small = not dump and size <= MAX_BYTES
            packet = head + handle.read(MAX_BYTES + 1 - len(head)) if small else b""
    except OSError as error:
        raise TarballError(str(path), f"cannot read: {error.strerror or error}") from None
    if dump:
        yield from tarballs.read(path)
    elif size > MAX_BYTES:
        too_large = PacketTooLarge(str(path), f"{size} bytes, over the {MAX_BYTES}-byte cap")
        yield Member(str(path), b"", size, too_large.nak_reason)
    else:
        yield Member(str(path), packet, size)

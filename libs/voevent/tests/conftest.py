"""Fixtures for the vohub.voevent tests: paths to the real packets in the repository's data/."""

from __future__ import annotations

import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
DATA = REPO / "data"


def iter_tarball(path: Path) -> Iterator[tuple[str, bytes]]:
    """Stream ``(member name, bytes)`` for every packet in a bz2 archive tarball."""
    with tarfile.open(path, "r:bz2") as archive:
        for member in archive:
            if member.isfile():
                handle = archive.extractfile(member)
                assert handle is not None
                yield member.name, handle.read()


def member(tarball: str, name: str) -> bytes:
    """The bytes of one named packet inside ``data/tarballs/<tarball>``.

    Streams the archive and stops at the member (``TarFile.extractfile(name)`` would
    decompress the whole bz2 archive first), so pick members near the start.
    """
    for found, data in iter_tarball(DATA / "tarballs" / tarball):
        if found == name:
            return data
    raise AssertionError(f"{name} is not in {tarball}")


@pytest.fixture(scope="session")
def voevents() -> Path:
    """``data/voevents``: the hand-picked sample packets."""
    assert (DATA / "voevents").is_dir(), "data/voevents is missing"
    return DATA / "voevents"


@pytest.fixture(scope="session")
def tarball_member() -> Callable[[str, str], bytes]:
    """``tarball_member(tarball, name)``: the bytes of one packet in ``data/tarballs``."""
    return member


@pytest.fixture(scope="session")
def tarball_packets() -> Callable[[Path], Iterator[tuple[str, bytes]]]:
    """``tarball_packets(path)``: stream ``(name, bytes)`` of every packet in a tarball."""
    return iter_tarball


@pytest.fixture(scope="session")
def tarballs() -> list[Path]:
    """Every archive tarball in ``data/tarballs``."""
    found = sorted((DATA / "tarballs").glob("*.tar.bz2"))
    assert found, "data/tarballs holds no tarballs"
    return found

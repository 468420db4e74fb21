"""Dump files: long member names, other tar formats, several bzip2 streams, damaged files."""

from __future__ import annotations

import bz2
import io
import tarfile
from pathlib import Path

import pytest

from vohub.archive import tarballs
from vohub.archive.errors import TarballError

LONG = "ivo://vohub.test/" + "x" * 150 + "#1"


def tar_bytes(members: list[tuple[str, bytes]], form: int) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=form) as archive:
        archive.addfile(tarfile.TarInfo("folder"), None)  # not a file: skipped
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_a_written_dump_reads_back_with_long_names(tmp_path: Path) -> None:
    out = tmp_path / "d.tar.bz2"
    packets = [(LONG, b"<a/>"), ("ivo://vohub.test/s#2", b"<b/>" * 5000)]
    assert tarballs.write(out, packets) == 2
    found = [(m.name, m.data) for m in tarballs.read(out)]
    assert found == [(tarballs.member_name(i), data) for i, data in packets]


@pytest.mark.parametrize("form", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_tar_formats_and_multi_stream_bzip2(tmp_path: Path, form: int) -> None:
    name = "y" * 120 + ".xml" if form != tarfile.USTAR_FORMAT else "a/b.xml"
    raw = tar_bytes([(name, b"<c/>"), ("skip.txt", b"text")], form)
    half = len(raw) // 2
    dump = tmp_path / "multi.tar.bz2"
    dump.write_bytes(bz2.compress(raw[:half]) + bz2.compress(raw[half:]))  # as pbzip2 writes
    members = list(tarballs.read(dump))
    assert [(m.name, m.data) for m in members] == [(name, b"<c/>")]
    assert members[0].position == dump.stat().st_size


def test_a_truncated_dump_names_the_file(tmp_path: Path) -> None:
    whole = bz2.compress(tar_bytes([("a.xml", bytes(range(256)) * 400)], tarfile.GNU_FORMAT))
    cut = tmp_path / "cut.tar.bz2"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(TarballError, match=rf"^{cut}: cannot read dump: "):
        list(tarballs.read(cut))


def test_the_stream_refuses_to_seek_backwards() -> None:
    stream = tarballs._Unzipped(io.BytesIO(bz2.compress(b"0123456789")))
    assert stream.read(5) == b"01234"
    with pytest.raises(OSError, match="cannot seek back"):
        stream.seek(2)


NASTY = [
    "ivo://ex.org/x#../../../escaped",
    "ivo://ex.org/x#..",
    "ivo://ex.org/x#",
    "ivo://ex.org/x#/etc/passwd",
    "ivo://a.b/c#d/e",
    "ivo://a.b/c/d#e",
    "ivo://a.b/c#d%2Fe",
    "ivo://ex.org/../up#1",
    "ivo://ex.org//x#1",
    "ivo://ex.org/x",
    "ivo:///abs#1",
    "/abs/path#1",
    "ex.org/x#1",
    "ivo://ex.org/x#a#b",
    "ivo://ex.org/x y#1",
]


def test_member_names_keep_voeventdb_layout_for_ordinary_ivorns() -> None:
    assert tarballs.member_name("ivo://nasa.gsfc.gcn/SWIFT#BAT_GRB_Pos_655721-214") == (
        "nasa.gsfc.gcn/SWIFT/BAT_GRB_Pos_655721-214.xml"
    )
    assert tarballs.member_name("ivo://voevent.phys.soton.ac.uk/voevent-tests#2016-09-01+x:1") == (
        "voevent.phys.soton.ac.uk/voevent-tests/2016-09-01+x:1.xml"
    )


def test_member_names_are_safe_and_distinct() -> None:
    names = [tarballs.member_name(ivorn) for ivorn in NASTY]
    assert len(set(names)) == len(NASTY)
    for ivorn, name in zip(NASTY, names, strict=True):
        assert not name.startswith("/"), ivorn
        assert all(part not in ("", ".", "..") for part in name.split("/")), (ivorn, name)
        assert name.endswith(".xml")
    assert names[:2] == ["ex.org/x/..%2F..%2F..%2Fescaped.xml", "ex.org/x/...xml"]
    assert names[4:6] == ["a.b/c/d%2Fe.xml", "a.b/c/d/e.xml"]


def test_a_dump_of_nasty_ivorns_extracts_inside_its_folder(tmp_path: Path) -> None:
    out = tmp_path / "nasty.tar.bz2"
    tarballs.write(out, [(ivorn, ivorn.encode()) for ivorn in NASTY])
    target = tmp_path / "x" / "y"
    with tarfile.open(out) as archive:
        archive.extractall(target, filter="data")  # raises on a name escaping ``target``
    files = sorted(p for p in tmp_path.rglob("*") if p.is_file() and p != out)
    assert all(target in p.parents for p in files)
    assert sorted(p.read_text() for p in files) == sorted(NASTY)

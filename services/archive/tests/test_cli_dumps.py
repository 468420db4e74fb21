"""``vohub archive`` dumps at their edges: safe member names, missing databases, the exit status
of an import with invalid inputs, and a dump written to standard output."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from vohub.testing.archive import archive_cli

SMALL = "2020-06.002.tar.bz2"


def packet_as(data_dir: Path, ivorn: str) -> bytes:
    """A real packet (Gaia16bsf) under another IVORN."""
    raw = (data_dir / "voevents" / "voeventdb" / "Gaia16bsf.xml").read_bytes()
    return raw.replace(b"ivo://gaia.cam.uk/alerts#Gaia16bsf", ivorn.encode())


def test_export_member_names_are_safe_distinct_and_import_back(
    tmp_path: Path, data_dir: Path
) -> None:
    ivorns = {
        "ivo://gaia.cam.uk/alerts#Gaia16bsf": "gaia.cam.uk/alerts/Gaia16bsf.xml",
        "ivo://ex.org/x#../../../escaped": "ex.org/x/..%2F..%2F..%2Fescaped.xml",
        "ivo://ex.org/a#b/c": "ex.org/a/b%2Fc.xml",
        "ivo://ex.org/a/b#c": "ex.org/a/b/c.xml",
        "ivo://ex.org/../up#1": "ivo:%2F%2Fex.org%2F..%2Fup%231.xml",
    }
    saved = tmp_path / "saved"
    saved.mkdir()
    for number, ivorn in enumerate(ivorns):
        (saved / f"{number}.xml").write_bytes(packet_as(data_dir, ivorn))
    first, second = f"sqlite:///{tmp_path / '1.db'}", f"sqlite:///{tmp_path / '2.db'}"
    assert archive_cli("--db", first, "import", str(saved)).returncode == 0
    dump = tmp_path / "out.tar.bz2"
    assert archive_cli("--db", first, "export", "-o", str(dump)).returncode == 0
    with tarfile.open(dump) as archive:
        assert sorted(archive.getnames()) == sorted(ivorns.values())
        archive.extractall(tmp_path / "unpacked", filter="data")  # refuses names escaping it
    again = archive_cli("--db", second, "import", str(dump))  # IVORNs come from the packets
    assert again.stdout.splitlines() == ["imported 5, duplicates 0, conflicts 0, invalid 0"]
    assert archive_cli("--db", first, "import", str(dump)).stdout.splitlines() == [
        "imported 0, duplicates 5, conflicts 0, invalid 0"
    ]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ["--data-dir", "newempty"],
            "archive.data_dir: no such folder: newempty (so no archive database "
            "newempty/archive.db)",
        ),
        (["--data-dir", "."], "archive.data_dir: no such archive database: archive.db"),
        (["--db", "sqlite:///missing.db"], "archive.db: no such archive database: missing.db"),
        (
            ["--db", "sqlite:///nowhere/missing.db"],
            "archive.db: no such folder: nowhere (so no archive database nowhere/missing.db)",
        ),
    ],
)
@pytest.mark.parametrize(
    "action", [["export", "-o", "x.tar.bz2"], ["migrate", "--check"], ["optimize"]]
)
def test_actions_on_an_existing_archive_refuse_a_missing_database(
    tmp_path: Path, flags: list[str], message: str, action: list[str]
) -> None:
    result = archive_cli(*flags, *action, cwd=tmp_path)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.splitlines() == [f"vohub archive: configuration error: {message}"]
    assert list(tmp_path.iterdir()) == []  # no database, folder or dump created


def test_import_exits_1_when_any_input_is_invalid(tmp_path: Path, data_dir: Path) -> None:
    db = f"sqlite:///{tmp_path / 'i.db'}"
    (tmp_path / "empty.xml").write_bytes(b"")
    (tmp_path / "notxml.xml").write_text("hello")
    big = tmp_path / "big.xml"
    big.write_bytes(b" " * 2_000_000)
    good = data_dir / "voevents" / "voeventdb" / "Gaia16bsf.xml"
    bad = archive_cli(
        "--db", db, "import", str(tmp_path / "empty.xml"), str(tmp_path / "notxml.xml")
    )
    assert bad.returncode == 1, bad.stderr
    assert bad.stdout.splitlines()[0] == "imported 0, duplicates 0, conflicts 0, invalid 2"
    assert bad.stdout.splitlines()[1].startswith(f"  invalid: {tmp_path / 'empty.xml'}: ")
    assert bad.stdout.splitlines()[2].startswith(f"  invalid: {tmp_path / 'notxml.xml'}: ")
    mixed = archive_cli("--db", db, "import", str(good), str(big))
    assert mixed.returncode == 1
    assert mixed.stdout.splitlines() == [
        "imported 1, duplicates 0, conflicts 0, invalid 1",
        f"  invalid: {big}: packet too large: 2000000 bytes, over the 1048576-byte cap",
    ]
    assert archive_cli("--db", db, "import", str(good)).returncode == 0  # a duplicate is fine
    other = tmp_path / "other.xml"
    other.write_bytes(good.read_bytes().replace(b"magnitude 15.94", b"magnitude 15.95"))
    conflict = archive_cli("--db", db, "import", str(other))  # kept aside in the conflict table
    assert (conflict.returncode, conflict.stdout.splitlines()[0]) == (
        0,
        "imported 0, duplicates 0, conflicts 1, invalid 0",
    )
    assert "Exit status: 0 when every packet was stored" in archive_cli("import", "--help").stdout


def test_export_to_standard_output(tmp_path: Path, data_dir: Path) -> None:
    db = f"sqlite:///{tmp_path / 'e.db'}"
    assert archive_cli("--db", db, "import", str(data_dir / "tarballs" / SMALL)).returncode == 0
    argv = [sys.executable, "-m", "vohub.cli", "archive", "--db", db, "export", "-o", "-"]
    result = subprocess.run(argv, capture_output=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "exported 294 packets to standard output" in result.stderr.decode()
    with tarfile.open(fileobj=io.BytesIO(result.stdout), mode="r:bz2") as archive:
        assert len(archive.getnames()) == 294
    assert not (tmp_path / "-").exists()
    assert "- writes it to standard output" in archive_cli("export", "--help").stdout
    leader, follower = pty.openpty()
    with os.fdopen(leader, "rb"), os.fdopen(follower, "wb") as terminal:
        shown = subprocess.run(argv, stdout=terminal, stderr=subprocess.PIPE, timeout=60)
    assert shown.returncode == 2
    assert b"-o -: standard output is a terminal" in shown.stderr

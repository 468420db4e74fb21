"""``vohub archive`` when things go wrong: damaged dumps among good files, Ctrl-C during an
import or an export, odd paths, bad settings and an old schema under ``optimize``."""

from __future__ import annotations

import bz2
import os
import re
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from vohub.archive import importer, schema, tarballs
from vohub.archive.db import make_engine
from vohub.archive.errors import TarballError
from vohub.testing.archive import archive_cli

SMALL = "2020-06.002.tar.bz2"


def stored(db: Path) -> int:
    with sqlite3.connect(db) as connection:
        return int(connection.execute("SELECT count(*) FROM voevent").fetchone()[0])


def test_a_damaged_dump_is_listed_and_the_other_files_imported(
    tmp_path: Path, data_dir: Path
) -> None:
    tar = bz2.decompress((data_dir / "tarballs" / SMALL).read_bytes())
    half = len(tar) // 2 // 512 * 512
    cut = tmp_path / "cut.tar.bz2"  # two bzip2 streams, the second cut short
    cut.write_bytes(bz2.compress(tar[:half]) + bz2.compress(tar[half:])[:1000])
    packet = data_dir / "voevents" / "voeventdb" / "Gaia16bsf.xml"
    db = tmp_path / "a.db"
    result = archive_cli("--db", f"sqlite:///{db}", "import", str(cut), str(packet))
    assert result.returncode == 1, result.stderr
    head, *problems = result.stdout.splitlines()
    assert problems == [
        f"  unreadable: {cut}: cannot read dump: compressed file ended before the "
        "end-of-stream marker"
    ]
    imported = int(re.fullmatch(r"imported (\d+), duplicates 0, conflicts 0, invalid 0", head)[1])  # type: ignore[index]
    assert 1 < imported == stored(db)  # the packets before the damage, and the packet file
    assert (
        "Gaia16bsf"
        in archive_cli("--db", f"sqlite:///{db}", "ingest", stdin=packet.read_bytes()).stdout
    )


def _in_own_group() -> None:
    os.setsid()
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # Python then installs its own handler


@pytest.mark.timeout(120)
def test_ctrl_c_stops_an_import_cleanly_with_a_summary(tmp_path: Path, data_dir: Path) -> None:
    """Ctrl-C reaches every process of the terminal, the reader processes too."""
    db = tmp_path / "c.db"
    argv = [sys.executable, "-m", "vohub.cli", "archive", "--db", f"sqlite:///{db}", "import"]
    dumps = [str(data_dir / "tarballs" / name) for name in ("2016-09.001.tar.bz2", SMALL)]
    with subprocess.Popen(
        [*argv, *dumps],  # over PARALLEL_FROM: two reader processes
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_in_own_group,  # no threads here: safe
    ) as process:
        assert process.stderr is not None
        first = process.stderr.readline()  # drawn once the first batch is written
        assert " packets " in first, first
        os.killpg(process.pid, signal.SIGINT)
        out, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "Traceback" not in err, err
    assert "interrupted; the packets counted above are stored" in err
    head = out.splitlines()[0]
    imported = int(re.fullmatch(r"imported (\d+), duplicates 0, conflicts 0, invalid 0", head)[1])  # type: ignore[index]
    assert 0 < imported == stored(db)


def test_a_reader_process_leaves_ctrl_c_to_the_importer(data_dir: Path) -> None:
    """A reader process ignores SIGINT (its importer stops it) rather than print a
    KeyboardInterrupt traceback of its own."""

    class Out:
        items: ClassVar[list[object]] = []

        def put(self, item: object) -> None:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while the reader is at work
            self.items.append(item)

    previous = signal.getsignal(signal.SIGINT)
    try:
        importer._reader([(0, str(data_dir / "tarballs" / SMALL))], 100, Out())
    finally:
        signal.signal(signal.SIGINT, previous)
    assert len(Out.items) == 4  # three batches of the 294 packets, then None
    assert Out.items[-1] is None


def test_an_interrupted_export_leaves_no_partial_dump(tmp_path: Path) -> None:
    out = tmp_path / "out.tar.bz2"
    tarballs.write(out, [("ivo://a.b/c#old", b"<old/>")])
    before = out.read_bytes()

    def interrupted() -> Iterator[tuple[str, bytes]]:
        yield "ivo://a.b/c#1", b"<x/>" * 100_000
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        tarballs.write(out, interrupted())
    assert out.read_bytes() == before  # the earlier dump, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.tar.bz2"]
    fresh = tmp_path / "fresh.tar.bz2"
    with pytest.raises(KeyboardInterrupt):
        tarballs.write(fresh, interrupted())
    assert not fresh.exists()
    with pytest.raises(TarballError, match=rf"^{tmp_path}: cannot write dump: it is a folder"):
        tarballs.write(tmp_path, [])
    assert tarballs.write(Path(os.devnull), [("ivo://a.b/c#1", b"<x/>")]) == 1  # not replaced
    assert Path(os.devnull).is_char_device()


def test_a_path_that_is_no_file_is_named_as_such(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'p.db'}"
    device = archive_cli("--db", db, "import", os.devnull)
    assert (device.returncode, device.stderr.strip()) == (
        1,
        f"vohub archive import: {os.devnull}: not a regular file or folder",
    )
    (tmp_path / "dangling").symlink_to(tmp_path / "gone")
    dangling = archive_cli("--db", db, "import", str(tmp_path / "dangling"))
    assert dangling.stderr.strip().endswith("dangling: a symbolic link to nothing")


def test_a_bad_log_level_is_a_configuration_error(tmp_path: Path) -> None:
    result = archive_cli(
        "--db",
        f"sqlite:///{tmp_path / 'l.db'}",
        "migrate",
        env={"VOHUB_ARCHIVE__LOG_LEVEL": "LOUD"},
    )
    assert (result.returncode, result.stderr.strip()) == (
        2,
        "vohub archive: configuration error: archive.log_level: must be one of DEBUG, INFO, "
        "WARNING, ERROR, CRITICAL, not 'LOUD'",
    )
    quiet = archive_cli(
        "--db",
        f"sqlite:///{tmp_path / 'l.db'}",
        "migrate",
        env={"VOHUB_ARCHIVE__LOG_LEVEL": "error"},
    )
    assert quiet.returncode == 0, quiet.stderr


def test_optimize_leaves_an_old_schema_to_migrate(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    engine = make_engine(f"sqlite:///{path}")
    schema.upgrade(engine, "0003")
    engine.dispose()
    result = archive_cli("--db", f"sqlite:///{path}", "optimize")
    assert result.returncode == 2  # a precondition, as a configuration error
    assert "schema is at 0003, needs 0005: run vohub archive migrate" in result.stderr
    engine = make_engine(f"sqlite:///{path}")
    assert schema.current(engine) == "0003"
    engine.dispose()

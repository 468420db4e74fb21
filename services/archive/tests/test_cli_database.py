"""The database ``vohub archive`` is given, as the operator sees it when it cannot be used."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from vohub.testing.archive import archive_cli, archive_command
from vohub.testing.ports import free_port


@pytest.mark.parametrize(
    ("data_dir", "message"),
    [
        ("var", "var/archive.db: cannot open the database for writing: Is a directory"),
        ("notes/var", "notes/var: cannot create the folder: Not a directory"),
    ],
)
def test_an_unwritable_sqlite_database_is_named_with_the_reason(
    tmp_path: Path, data_dir: str, message: str
) -> None:
    """SQLite said only "unable to open database file" (exit status 1; serve waited forever)."""
    (tmp_path / "var" / "archive.db").mkdir(parents=True)  # a folder where the file goes
    (tmp_path / "notes").write_text("a file where the folder goes")
    for action in ("migrate", "ingest"):
        result = archive_cli("--data-dir", data_dir, action, cwd=tmp_path)
        assert (result.returncode, result.stderr) == (2, f"vohub archive {action}: {message}\n")
    argv = archive_command("", f"127.0.0.1:{free_port()}", "--ops", "", "--data-dir", data_dir)
    served = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert served.returncode == 2
    assert f'event=archive.start_failed error="{message}"' in served.stderr

"""A configuration file that cannot be read as UTF-8 TOML stops every service command with a
one-line configuration error naming it (status 2), never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

COMMANDS = [["broker"], ["gateway"], ["archive", "serve"], ["up"]]


def vohub(tmp_path: Path, command: list[str], config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vohub.cli", *command, "--config", str(config)],
        capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path,
    )  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_folder(tmp_path: Path, command: list[str]) -> None:
    folder = tmp_path / "conf.d"
    folder.mkdir()
    done = vohub(tmp_path, command, folder)
    assert done.returncode == 2
    assert done.stderr == (
        f"vohub {command[0]}: configuration error: "
        f"{folder}: cannot read the configuration file: Is a directory\n"
    )


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_bytes_that_are_not_utf8(tmp_path: Path, command: list[str]) -> None:
    config = tmp_path / "bin.toml"
    config.write_bytes(b'[broker]\nlocal_ivo="\xff\xfe"\n')
    done = vohub(tmp_path, command, config)
    assert done.returncode == 2
    assert done.stderr == (
        f"vohub {command[0]}: configuration error: "
        f"{config}: not UTF-8 text: byte 0xff at offset 20\n"
    )

"""make_folder: a data folder made with its parents, or a FolderUnusable naming what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from vohub.common.errors import FolderUnusable
from vohub.common.folders import make_folder


def test_a_missing_folder_is_made_with_its_parents_and_an_existing_one_is_kept(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "var" / "broker"
    assert make_folder(folder) == folder
    (folder / "kept").write_text("")
    assert make_folder(folder).joinpath("kept").exists()


@pytest.mark.parametrize(
    ("where", "reason"),
    [
        ("var", "not a folder: a file is in the way"),
        ("var/broker", "not a folder: {file} is a file"),
        ("var/broker/spool", "not a folder: {file} is a file"),
    ],
)
def test_a_file_in_the_way_is_named(tmp_path: Path, where: str, reason: str) -> None:
    """The system says "File exists" for the first and "Not a directory" for the others."""
    file = tmp_path / "var"
    file.write_text("")
    with pytest.raises(FolderUnusable) as caught:
        make_folder(tmp_path / where)
    assert (caught.value.key, caught.value.message) == (
        str(tmp_path / where),
        reason.format(file=file),
    )

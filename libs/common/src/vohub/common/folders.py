"""Making a service's data folder, with a message that names what stands in the way."""

from __future__ import annotations

from pathlib import Path

from vohub.common.errors import FolderUnusable


def make_folder(folder: Path) -> Path:
    """Create ``folder`` and any missing parents; return it.

    Raises :class:`~vohub.common.errors.FolderUnusable` naming ``folder``: "not a folder: a
    file is in the way" when ``folder`` or one of its parents is a file (where the system says
    only "File exists" or "Not a directory"), else the system's reason (permission denied, a
    read-only file system).

    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> make_folder(root / "var" / "broker").is_dir()
    True
    >>> _ = (root / "file").write_text("")
    >>> make_folder(root / "file" / "broker")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    vohub.common.errors.FolderUnusable: /.../file/broker: not a folder: .../file is a file
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FolderUnusable(str(folder), _reason(folder, exc)) from None
    return folder


def _reason(folder: Path, error: OSError) -> str:
    for path in (folder, *folder.parents):
        if path.exists():
            if path.is_dir():
                break
            if path == folder:
                return "not a folder: a file is in the way"
            return f"not a folder: {path} is a file"
    return f"cannot create the folder: {error.strerror}"

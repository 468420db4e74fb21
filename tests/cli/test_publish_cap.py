"""``vohub publish`` reads no more of a file or of standard input than ``--max-bytes`` + 1."""

from __future__ import annotations

import fcntl
import os
import struct
import subprocess
import sys
import termios
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from vohub.testing.ports import free_port

VOHUB = Path(sys.executable).parent / "vohub"
CAP = 1000
#: Bytes waiting in the pipe: over the cap, yet within a pipe's buffer, so they are written
#: at once; the pipe is never closed, so the stream never ends.
FED = 60_000


def unread(fd: int) -> int:
    """Bytes written to the pipe behind ``fd`` and not read (yet) from it."""
    count: int = struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0" * 4))[0]
    return count


@dataclass(frozen=True)
class Endless:
    """A stream holding :data:`FED` bytes that never ends: what to publish (a named pipe, or
    ``-``), the standard input to give, and the pipe's write end, never closed while in use."""

    name: str
    stdin: int
    end: int


@pytest.fixture(params=["named pipe", "stdin"])
def endless(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Endless]:
    if request.param == "named pipe":
        fifo = tmp_path / "endless.xml"
        os.mkfifo(fifo)
        end = os.open(fifo, os.O_RDWR)  # a writer that stays: its reader never sees the end
        stream = Endless(str(fifo), subprocess.DEVNULL, end)
    else:
        read_end, end = os.pipe()
        stream = Endless("-", read_end, end)
    os.write(end, b" " * FED)
    yield stream
    os.close(end)
    if stream.stdin != subprocess.DEVNULL:
        os.close(stream.stdin)


def test_publish_reads_no_more_than_the_cap_and_one_byte(endless: Endless) -> None:
    """It read the whole file (or stdin) into memory before the check: a stream that never
    ends kept it reading forever."""
    done = subprocess.run(
        [str(VOHUB), "publish", endless.name, "--to", f"127.0.0.1:{free_port()}",
         "--max-bytes", str(CAP)],
        stdin=endless.stdin, capture_output=True, timeout=20, check=False,
    )  # fmt: skip
    assert done.stdout.decode() == f"ERROR {endless.name}: not sent: over --max-bytes {CAP}\n"
    assert done.returncode == 1
    assert FED - unread(endless.end) == CAP + 1  # taken from the pipe: the cap and one byte

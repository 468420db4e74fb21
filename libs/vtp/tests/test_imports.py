"""The codec is sans-IO: its modules import no asyncio, socket or ssl (ARCHITECTURE, STYLE P1)."""

from __future__ import annotations

import subprocess
import sys

CODEC_MODULES = [
    "vohub.vtp",
    "vohub.vtp.errors",
    "vohub.vtp.framing",
    "vohub.vtp.messages",
    "vohub.vtp.filters",
    "vohub.vtp.author",
    "vohub.vtp.subscriber",
    "vohub.vtp.broker",
    "vohub.vtp.receiver",
    "vohub.vtp.broadcaster",
    "vohub.vtp.backoff",
    "vohub.vtp.address",
    "vohub.vtp.canonical",
    "vohub.vtp.pipeline",
    "vohub.vtp.roles",
]
FORBIDDEN = ("asyncio", "socket", "ssl")


def test_codec_modules_import_no_io_modules() -> None:
    script = (
        f"import sys\nimport {', '.join(CODEC_MODULES)}\n"
        f"print(','.join(m for m in {FORBIDDEN!r} if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == ""


def test_the_check_can_fail() -> None:
    script = "import sys, vohub.vtp.client\nprint('asyncio' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "True"

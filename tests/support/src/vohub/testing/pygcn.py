"""pygcn test support: a real ``gcn.listen`` subprocess that records every packet it receives.

Run as ``python -m vohub.testing.pygcn HOST PORT OUTFILE``: it follows the broker with pygcn's
own client (its iamalive answers, acks and reconnects) and appends one JSON line per packet
the handler gets (IVORN, SHA-1, size). :class:`PygcnListener` starts and reads it.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from vohub.testing.process import SupervisedProcess


class PygcnListener:
    """A running pygcn listener and what it has received so far."""

    def __init__(self, host: str, port: int, workdir: Path, name: str = "pygcn") -> None:
        self.record = workdir / f"{name}.jsonl"
        self.record.touch()
        argv = [sys.executable, "-m", "vohub.testing.pygcn", host, str(port), str(self.record)]
        self.process = SupervisedProcess(name, argv, log_dir=workdir)

    def start(self) -> PygcnListener:
        """Start listening (the connection is made in the background)."""
        self.process.start()
        return self

    def received(self) -> list[dict[str, Any]]:
        """Every packet handled so far, in order: ``{"ivorn", "sha1", "bytes"}``."""
        lines = self.record.read_text().splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def stop(self) -> int:
        """Stop the listener; returns its exit status."""
        return self.process.stop()


def _listen(host: str, port: int, record: Path) -> None:
    import logging

    import gcn  # pygcn 1.1.3
    from lxml import etree

    logging.basicConfig(level=logging.DEBUG, format="%(asctime)s %(name)s %(message)s")

    def handler(payload: bytes, root: etree._Element) -> None:
        entry = {
            "ivorn": root.get("ivorn"),
            "sha1": hashlib.sha1(payload).hexdigest(),
            "bytes": len(payload),
        }
        with record.open("a") as out:
            out.write(json.dumps(entry) + "\n")

    gcn.listen(host=host, port=port, handler=handler)


if __name__ == "__main__":
    _listen(sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]))

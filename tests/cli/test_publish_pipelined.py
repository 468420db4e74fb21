"""``vohub publish`` against a vohub broker: every file down one pipelined connection."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from vohub.testing.broker import BrokerFactory

DATA = Path(__file__).resolve().parents[2] / "data" / "voevents" / "fourpisky-core"
VOHUB = Path(sys.executable).parent / "vohub"
BAT = DATA / "BAT_GRB_Pos_558756-820.xml"
GAIA = DATA / "Gaia16ajo.xml"


def test_publish_pipelines_several_files_and_reports_them_in_order(
    broker_factory: BrokerFactory, tmp_path: Path
) -> None:
    broker = broker_factory()
    junk = tmp_path / "junk.xml"
    junk.write_text("<html/>")
    cut = tmp_path / "cut.xml"  # a VOEvent head the broker would take, then hang up on
    cut.write_bytes(GAIA.read_bytes()[:600])
    files = [BAT, GAIA, junk, cut, BAT]
    done = subprocess.run(
        [str(VOHUB), "publish", *map(str, files), "--to", f"127.0.0.1:{broker.receive[1]}"],
        capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    lines = done.stdout.decode().splitlines()
    assert done.returncode == 1
    assert lines[0] == f"ACK {BAT} ivo://nasa.gsfc.gcn/SWIFT#BAT_GRB_Pos_558756-820"
    assert lines[1] == f"ACK {GAIA} ivo://voevent.4pisky.org/GAIA#Gaia16ajo"
    assert lines[2].startswith(f"ERROR {junk}: not sent: not a VOEvent")
    assert lines[3].startswith(f"ERROR {cut}: not sent: malformed XML: ")
    assert lines[4] == (
        f"NAK {BAT} ivo://nasa.gsfc.gcn/SWIFT#BAT_GRB_Pos_558756-820: "
        "Event rejected: Previously seen by this broker"
    )
    assert broker.log().count("event=author.pipelining") == 1  # one connection for them all

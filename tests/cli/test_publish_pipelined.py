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


def test_publish_sends_a_packet_over_comets_limit_only_when_allowed(
    broker_factory: BrokerFactory, tmp_path: Path
) -> None:
    """Comet hangs up on a frame over 99 999 bytes; a vohub broker archives up to 1 MiB."""
    broker = broker_factory()
    big = tmp_path / "big.xml"
    pad = b"<How><Description>" + b"x" * 150_000 + b"</Description>"
    big.write_bytes(BAT.read_bytes().replace(b"<How>", pad))
    to = ["--to", f"127.0.0.1:{broker.receive[1]}"]
    refused = subprocess.run([str(VOHUB), "publish", str(big), *to],
                             capture_output=True, timeout=60, check=False)  # fmt: skip
    assert refused.returncode == 1
    size = big.stat().st_size
    assert (
        refused.stdout.decode() == f"ERROR {big}: not sent: {size} bytes, over --max-bytes 99999\n"
    )
    sent = subprocess.run([str(VOHUB), "publish", str(big), *to, "--max-bytes", "1048576"],
                          capture_output=True, timeout=60, check=False)  # fmt: skip
    assert sent.stdout.decode() == f"ACK {big} ivo://nasa.gsfc.gcn/SWIFT#BAT_GRB_Pos_558756-820\n"
    assert sent.returncode == 0


def test_a_packet_without_role_is_taken_as_an_observation(
    broker_factory: BrokerFactory, tmp_path: Path
) -> None:
    """``vohub validate`` passes it (the schema's default role); the broker refused it."""
    broker = broker_factory()
    plain = tmp_path / "plain.xml"
    plain.write_bytes(GAIA.read_bytes().replace(b' role="observation"', b"", 1))
    assert plain.read_bytes() != GAIA.read_bytes()  # the root had the only role attribute
    done = subprocess.run(
        [str(VOHUB), "publish", str(plain), "--to", f"127.0.0.1:{broker.receive[1]}"],
        capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.stdout.decode() == f"ACK {plain} ivo://voevent.4pisky.org/GAIA#Gaia16ajo\n"


def test_publish_sends_a_packet_over_a_mebibyte_when_max_bytes_allows(
    broker_factory: BrokerFactory, tmp_path: Path
) -> None:
    """A larger --max-bytes is for brokers that take more: the packet is sent (it was refused
    at the library's 1 MiB cap before sending); a vohub broker hangs up on the frame."""
    broker = broker_factory()
    big = tmp_path / "big.xml"
    pad = b"<How><Description>" + b"x" * 1_100_000 + b"</Description>"
    big.write_bytes(BAT.read_bytes().replace(b"<How>", pad))
    done = subprocess.run(
        [str(VOHUB), "publish", str(big), "--to", f"127.0.0.1:{broker.receive[1]}",
         "--max-bytes", "2000000"],
        capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.stdout.decode() == (
        f"ERROR {big}: connection lost before ack or nak (peer=127.0.0.1:{broker.receive[1]})\n"
    )
    assert "exceeds the limit of 1048576 bytes" in broker.log()


def test_files_after_one_the_broker_hangs_up_on_are_sent_again_and_judged(
    broker_factory: BrokerFactory, tmp_path: Path
) -> None:
    """The broker stops reading a pipelined connection at a frame over its limit: the files
    sent after that one were never read, so they go again on a new connection."""
    broker = broker_factory()
    big = tmp_path / "big.xml"
    pad = b"<How><Description>" + b"x" * 1_100_000 + b"</Description>"
    big.write_bytes((DATA / "BAT_GRB_Pos_570069-383.xml").read_bytes().replace(b"<How>", pad))
    files = [BAT, big, GAIA, DATA / "BAT_GRB_Pos_707545-520.xml"]
    done = subprocess.run(
        [str(VOHUB), "publish", *map(str, files), "--to", f"127.0.0.1:{broker.receive[1]}",
         "--max-bytes", "2000000"],
        capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    lines = done.stdout.decode().splitlines()
    assert lines[0] == f"ACK {BAT} ivo://nasa.gsfc.gcn/SWIFT#BAT_GRB_Pos_558756-820"
    assert lines[1].startswith(f"ERROR {big}: ")
    assert lines[2] == f"ACK {GAIA} ivo://voevent.4pisky.org/GAIA#Gaia16ajo"
    assert lines[3] == f"ACK {files[3]} ivo://nasa.gsfc.gcn/SWIFT#BAT_GRB_Pos_707545-520"
    assert done.returncode == 1

"""``vohub publish`` reports each verdict as soon as it (and every one before it) is known."""

from __future__ import annotations

import re
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from vohub.testing.broker import BrokerFactory, with_ivorn
from vohub.vtp.framing import encode_frame

DATA = Path(__file__).resolve().parents[2] / "data" / "voevents" / "fourpisky-core"
VOHUB = Path(sys.executable).parent / "vohub"
BAT = DATA / "BAT_GRB_Pos_558756-820.xml"
GAIA = DATA / "Gaia16ajo.xml"
ACK = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<trn:Transport xmlns:trn="http://www.telescope-networks.org/xml/Transport/v1.1" '
    'version="1.0" role="ack"><Origin>{ivorn}</Origin><Response>ivo://vohub.test/stall'
    "</Response><TimeStamp>2020-01-01T00:00:00Z</TimeStamp></trn:Transport>"
)


def _read_frame(conn: socket.socket) -> bytes:
    data = b""
    while len(data) < 4 or len(data) < 4 + int.from_bytes(data[:4], "big"):
        chunk = conn.recv(65536)
        if not chunk:
            return b""
        data += chunk
    return data[4:]


@pytest.fixture
def stalling_broker() -> Iterator[int]:
    """A Comet-like broker (one event per connection, no pipelining) that acks the first
    event and never answers the next: its author must wait for its timeout."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    events = 0

    def serve() -> None:
        nonlocal events
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            payload = _read_frame(conn)
            if b"<VOEvent" not in payload[:400] and b":VOEvent" not in payload[:400]:
                conn.close()  # a Transport message (the pipelining request): Comet hangs up
                continue
            events += 1
            if events == 1:
                ivorn = re.search(rb'ivorn="([^"]+)"', payload)
                assert ivorn is not None
                conn.sendall(encode_frame(ACK.format(ivorn=ivorn[1].decode()).encode()))
                conn.close()
            else:
                held.append(conn)  # never answered

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    server.close()
    for conn in held:
        conn.close()


def test_an_ack_is_printed_before_later_files_are_answered(stalling_broker: int) -> None:
    """Interrupted while the second file waits, the first file's ACK is already out."""
    argv = [str(VOHUB), "publish", str(BAT), str(GAIA), "--to", f"127.0.0.1:{stalling_broker}"]
    publisher = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert publisher.stdout is not None
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(publisher.stdout, selectors.EVENT_READ)
            ready = selector.select(timeout=10)  # the second file would wait 20 s
        assert ready, "no verdict printed while a later file was still unanswered"
        first = publisher.stdout.readline().decode()
        assert first == f"ACK {BAT} ivo://nasa.gsfc.gcn/SWIFT#BAT_GRB_Pos_558756-820\n"
    finally:
        publisher.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 10
        while publisher.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        publisher.kill()
        publisher.communicate()
    assert publisher.returncode == 130


def publish(packet: Path, port: int) -> tuple[int, str]:
    """``vohub publish packet`` to the broker at ``port``: exit status and standard output."""
    done = subprocess.run(
        [str(VOHUB), "publish", str(packet), "--to", f"127.0.0.1:{port}"],
        capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    return done.returncode, done.stdout.decode()


def test_a_packet_the_codec_refuses_is_reported_as_not_sent(
    stalling_broker: int, tmp_path: Path
) -> None:
    """A VOEvent the packet reader takes but VTP refuses to carry (a DOCTYPE) never leaves:
    the line says so, and names no broker (none saw it)."""
    doctype = tmp_path / "doctype.xml"
    doctype.write_bytes(b"<!DOCTYPE VOEvent>" + GAIA.read_bytes().split(b"?>", 1)[1])
    assert publish(doctype, stalling_broker) == (
        1,
        f"ERROR {doctype}: not sent: not a VOEvent: XML with a DOCTYPE is refused "
        "(no entities or DTDs)\n",
    )


@pytest.mark.parametrize("validation", ["strict", "lenient"])
def test_a_voevent_of_an_unknown_role_is_naked_with_the_reason(
    broker_factory: BrokerFactory, tmp_path: Path, validation: str
) -> None:
    """The broker closed without a reply, so the author saw no reason (Comet naks it)."""
    bogus = tmp_path / "bogus.xml"
    bogus.write_bytes(GAIA.read_bytes().replace(b'role="observation"', b'role="bogus"', 1))
    broker = broker_factory(extra=["--validation", validation])
    assert publish(bogus, broker.receive[1]) == (
        1,
        f"NAK {bogus} ivo://voevent.4pisky.org/GAIA#Gaia16ajo: Event rejected: VOEvent role "
        "'bogus' is none of observation, prediction, test, utility\n",
    )


def test_a_reader_that_stops_early_gets_no_traceback(
    broker_factory: BrokerFactory, tmp_path: Path
) -> None:
    """``vohub publish ... | head -1``: the files still in flight wrote to a closed connection."""
    broker = broker_factory()
    files = []
    for number in range(300):
        path = tmp_path / f"{number}.xml"
        path.write_bytes(with_ivorn(BAT.read_bytes(), f"ivo://vohub.test/cli#head-{number}"))
        files.append(str(path))
    argv = [str(VOHUB), "publish", *files, "--to", f"127.0.0.1:{broker.receive[1]}"]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as run:
        out, err = run.stdout, run.stderr
        assert out is not None
        assert err is not None
        assert out.readline().startswith(b"ACK ")
        out.close()  # as head does after its line
        errors = err.read()
    assert b"Traceback" not in errors
    assert run.returncode == 1

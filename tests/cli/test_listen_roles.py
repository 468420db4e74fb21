"""``vohub listen`` refuses a relayed VOEvent whose role is none of the VOEvent roles."""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

from vohub.testing.process import SupervisedProcess
from vohub.vtp.broker import BroadcastConnection, Offer
from vohub.vtp.messages import Ack, Nak, parse_event

DATA = Path(__file__).resolve().parents[2] / "data" / "voevents" / "fourpisky-core"
VOHUB = Path(sys.executable).parent / "vohub"
BAT = DATA / "BAT_GRB_Pos_558756-820.xml"
GAIA = DATA / "Gaia16ajo.xml"
BAT_IVORN = "ivo://nasa.gsfc.gcn/SWIFT#BAT_GRB_Pos_558756-820"
GAIA_IVORN = "ivo://voevent.4pisky.org/GAIA#Gaia16ajo"


def test_listen_refuses_a_relayed_event_of_an_unknown_role(tmp_path: Path) -> None:
    """A broker that is not vohub relays it (a vohub broker naks it from its author): the
    listener printed it and ran ``--exec`` for it. Now it logs the refusal and acks it, as
    it acks every event (a nak would get it dropped), and goes on listening."""
    bogus = GAIA.read_bytes().replace(b'role="observation"', b'role="bogus"', 1)
    handled = tmp_path / "handled"
    handler = tmp_path / "handler.sh"
    handler.write_text(f'#!/bin/sh\necho "$VOHUB_IVORN" >> "{handled}"\n')
    handler.chmod(0o755)
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(15)
        address = f"127.0.0.1:{server.getsockname()[1]}"
        argv = [str(VOHUB), "listen", "--from", address, "--exec", str(handler), "--count", "1"]
        with SupervisedProcess("listen", argv, log_dir=tmp_path).start() as listener:
            conn, _ = server.accept()
            with conn:
                conn.settimeout(15)
                broker = BroadcastConnection(local_ivo="ivo://vohub.test/relay", now=time.time())
                for packet in (bogus, BAT.read_bytes()):  # the refused event, then a good one
                    assert broker.offer(parse_event(packet)) is Offer.SENT
                conn.sendall(broker.data_to_send())
                replies: list[Ack | Nak] = []
                while len(replies) < 2 and (data := conn.recv(65536)):
                    replies += [m for m in broker.receive_data(data) if isinstance(m, Ack | Nak)]
            listener.wait_ready(lambda: listener.returncode is not None, deadline=15)
    assert [(type(reply), reply.ivorn) for reply in replies] == [
        (Ack, GAIA_IVORN), (Ack, BAT_IVORN)
    ]  # fmt: skip
    assert broker.drop_reason is None  # a broker keeps the listener
    assert listener.returncode == 0  # --count 1: the good event was the first one taken
    lines = listener.output().splitlines()
    assert [line.split()[1] for line in lines if line.startswith("EVENT ")] == [BAT_IVORN]
    assert handled.read_text() == f"{BAT_IVORN}\n"  # --exec ran for the good event alone
    refused = [line for line in lines if "event=listen.refused" in line]
    assert len(refused) == 1
    assert "level=warning" in refused[0]
    assert f"ivorn={GAIA_IVORN}" in refused[0]
    assert "VOEvent role 'bogus' is none of observation, prediction, test, utility" in refused[0]

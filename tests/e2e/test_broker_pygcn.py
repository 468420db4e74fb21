"""pygcn 1.1.3's real listener following vohub across many iamalive ticks."""

from __future__ import annotations

import asyncio
import hashlib
import time
from pathlib import Path

import pytest

from vohub.testing.broker import BrokerFactory, wait_until, with_ivorn
from vohub.testing.pygcn import PygcnListener
from vohub.vtp.client import publish

pytestmark = [pytest.mark.e2e, pytest.mark.interop]

BAT = (Path(__file__).resolve().parents[2] / "data" / "voevents" / "fourpisky-core"
       / "BAT_GRB_Pos_558756-820.xml").read_bytes()  # fmt: skip


def test_pygcn_stays_connected_answers_iamalives_and_acks_every_packet(
    broker_factory: BrokerFactory, tmp_path: Path
) -> None:
    broker = broker_factory(iamalive=0.5)
    listener = PygcnListener("127.0.0.1", broker.broadcast[1], tmp_path).start()
    try:
        wait_until(lambda: broker.metric("vohub_broker_subscribers", kind="vtp") == 1, 30,
                   "pygcn connecting")  # fmt: skip
        packets = [with_ivorn(BAT, f"ivo://vohub.test/e2e#gcn-{i}") for i in range(3)]
        for packet in packets:
            assert (
                type(asyncio.run(publish("127.0.0.1", broker.receive[1], packet))).__name__ == "Ack"
            )
            time.sleep(1.0)  # two iamalive ticks between packets
        wait_until(lambda: len(listener.received()) == 3, 30, "pygcn handling three packets")
        wait_until(
            lambda: broker.metric("vohub_broker_subscriber_replies_total", role="iamalive") >= 6,
            30, "pygcn answering six iamalives",
        )  # fmt: skip
    finally:
        listener.stop()
    assert [r["sha1"] for r in listener.received()] == [
        hashlib.sha1(p).hexdigest() for p in packets
    ]
    assert broker.metric("vohub_broker_subscriber_replies_total", role="ack") == 3
    assert broker.metric("vohub_broker_subscribers_dropped_total", reason="dead") == 0
    assert broker.log().count("subscriber.connected") == 1  # never dropped, never reconnected


def test_pygcn_is_kept_though_it_never_acks_a_voevent_2_1(
    broker_factory: BrokerFactory, tmp_path: Path
) -> None:
    """pygcn acks only VOEvents in the 2.0 (or 1.1) namespace and skips a 2.1 one without a
    word. Counted as missed acks, three 2.1 packets got it dropped at the next iamalive."""
    config = tmp_path / "broker.toml"
    config.write_text("[broker]\nmax_missed_acks = 2\n")
    broker = broker_factory(iamalive=0.3, extra=["--config", str(config)])
    listener = PygcnListener("127.0.0.1", broker.broadcast[1], tmp_path).start()
    v21 = BAT.replace(b"VOEvent/v2.0", b"VOEvent/v2.1").replace(b"VOEvent-v2.0", b"VOEvent-v2.1")
    v21 = v21.replace(b'version="2.0"', b'version="2.1"', 1)
    try:
        wait_until(lambda: broker.metric("vohub_broker_subscribers", kind="vtp") == 1, 30,
                   "pygcn connecting")  # fmt: skip
        packets = [with_ivorn(v21, f"ivo://vohub.test/e2e#v21-{i}") for i in range(3)]
        packets.append(with_ivorn(BAT, "ivo://vohub.test/e2e#v20"))
        for packet in packets:
            assert (
                type(asyncio.run(publish("127.0.0.1", broker.receive[1], packet))).__name__ == "Ack"
            )
        wait_until(lambda: len(listener.received()) == 1, 30, "pygcn handling the 2.0 packet")
        pings = broker.metric("vohub_broker_subscriber_replies_total", role="iamalive")
        wait_until(lambda: broker.metric("vohub_broker_subscriber_replies_total", role="iamalive")
                   >= pings + 2, 30, "pygcn answering two more iamalives")  # fmt: skip
    finally:
        listener.stop()
    assert broker.metric("vohub_broker_subscriber_replies_total", role="ack") == 1
    assert broker.metric("vohub_broker_subscribers_dropped_total", reason="acknowledging") == 0
    assert broker.log().count("subscriber.connected") == 1  # never dropped, never reconnected

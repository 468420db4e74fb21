"""vohub and real Comet 3.1.0 peers on 127.0.0.1: Comet as author, as subscriber, as upstream."""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
from pathlib import Path

import pytest

from vohub.testing.broker import BrokerFactory, wait_until, with_ivorn
from vohub.testing.fixtures import CometFactory
from vohub.vtp.client import publish

pytestmark = [pytest.mark.e2e, pytest.mark.interop]

DATA = Path(__file__).resolve().parents[2] / "data" / "voevents" / "fourpisky-core"
BAT = (DATA / "BAT_GRB_Pos_558756-820.xml").read_bytes()  # Packet_Type 61
GAIA = (DATA / "Gaia16ajo.xml").read_bytes()
PACKET_61 = "//Param[@name='Packet_Type' and @value='61']"


def sendvo(comet_venv: Path, port: int, packet: bytes) -> tuple[int, str]:
    done = subprocess.run(
        [str(comet_venv / "bin" / "comet-sendvo"), "-h", "127.0.0.1", "-p", str(port)],
        input=packet, capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    return done.returncode, (done.stdout + done.stderr).decode(errors="replace")


def recorder(path: Path) -> Path:
    """A real ``--cmd`` script appending the SHA-1 of each event to ``<path>.sha1``."""
    script = path.with_suffix(".sh")
    script.write_text(f"#!/bin/sh\nsha1sum | cut -d' ' -f1 >> '{path}.sha1'\n")
    script.chmod(0o755)
    return script


def recorded(script: Path) -> list[str]:
    log = script.with_suffix(".sha1")
    return log.read_text().split() if log.exists() else []


def publish_now(port: int, packet: bytes) -> object:
    return asyncio.run(publish("127.0.0.1", port, packet))


def sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def test_comet_sendvo_gets_an_ack_then_naks_that_name_the_reason(
    broker_factory: BrokerFactory, comet_venv: Path
) -> None:
    broker = broker_factory()
    port = broker.receive[1]
    packet = with_ivorn(BAT, "ivo://vohub.test/e2e#sendvo-1")
    status, out = sendvo(comet_venv, port, packet)
    assert (status, "Acknowledgement received" in out) == (0, True)
    status, out = sendvo(comet_venv, port, packet)
    assert status == 1
    assert "Event rejected: Previously seen by this broker" in out
    status, out = sendvo(comet_venv, port, packet.replace(b"  ", b" ", 1))
    assert status == 1
    assert "IVORN ivo://vohub.test/e2e#sendvo-1 was already seen with different content" in out
    status, out = sendvo(comet_venv, port, packet.replace(b"<Who>", b"<Who><Bogus/>", 1)
                         .replace(b"sendvo-1", b"sendvo-2"))  # fmt: skip
    assert status == 1
    assert "Event rejected: schema violation: Element 'Bogus'" in out
    assert broker.metric("vohub_broker_accepted_total", path="author") == 1
    assert broker.metric("vohub_broker_rejected_total", path="author", reason="conflict") == 1


def test_comet_subscribers_get_every_packet_once_byte_for_byte_with_and_without_filter(
    broker_factory: BrokerFactory, comet_factory: CometFactory, tmp_path: Path
) -> None:
    broker = broker_factory()
    remote = f"127.0.0.1:{broker.broadcast[1]}"
    everything = recorder(tmp_path / "all")
    filtered = recorder(tmp_path / "t61")
    comet_factory(name="sub-all", receive=False, broadcast=False, remotes=[remote],
                  cmd=str(everything))  # fmt: skip
    comet_factory(name="sub-61", receive=False, broadcast=False, remotes=[remote],
                  cmd=str(filtered), filters=[PACKET_61])  # fmt: skip
    wait_until(lambda: broker.metric("vohub_broker_subscribers", kind="vtp") == 2, 30,
               "two Comet subscribers connecting")  # fmt: skip
    wait_until(lambda: "filters=[\"//Param" in broker.log() or PACKET_61 in broker.log(), 30,
               "the filtered Comet sending its filter")  # fmt: skip
    packets = [with_ivorn(BAT, f"ivo://vohub.test/e2e#bat-{i}") for i in range(3)]
    packets += [with_ivorn(GAIA, f"ivo://vohub.test/e2e#gaia-{i}") for i in range(2)]
    for packet in packets:
        assert type(publish_now(broker.receive[1], packet)).__name__ == "Ack"
    wait_until(lambda: len(recorded(everything)) >= 5 and len(recorded(filtered)) >= 3, 30,
               "Comet's --cmd recording the packets")  # fmt: skip
    wait_until(lambda: broker.metric("vohub_broker_subscriber_replies_total", role="iamalive") >= 2,
               30, "Comet answering iamalives")  # fmt: skip
    assert sorted(recorded(everything)) == sorted(sha1(p) for p in packets)
    assert sorted(recorded(filtered)) == sorted(sha1(p) for p in packets[:3])
    assert broker.metric("vohub_broker_subscribers_dropped_total", reason="dead") == 0
    assert broker.metric("vohub_broker_subscriber_replies_total", role="ack") == 8


def test_vohub_follows_a_comet_broker_and_relays_each_event_once(
    broker_factory: BrokerFactory, comet_factory: CometFactory, comet_venv: Path, tmp_path: Path
) -> None:
    upstream = comet_factory(name="upstream")
    broker = broker_factory(extra=["--remote", f"127.0.0.1:{upstream.broadcast_address[1]}"])
    wait_until(lambda: "vtp.subscribe.authenticated" in broker.log(), 30,
               "vohub subscribing to Comet")  # fmt: skip
    downstream = recorder(tmp_path / "down")
    comet_factory(name="downstream", receive=False, broadcast=False, cmd=str(downstream),
                  remotes=[f"127.0.0.1:{broker.broadcast[1]}"])  # fmt: skip
    wait_until(lambda: broker.metric("vohub_broker_subscribers", kind="vtp") == 1, 30,
               "a downstream Comet subscribing to vohub")  # fmt: skip
    packets = [with_ivorn(BAT, f"ivo://vohub.test/e2e#up-{i}") for i in range(3)]
    for packet in packets:
        assert sendvo(comet_venv, upstream.receive_address[1], packet)[0] == 0
    wait_until(lambda: len(recorded(downstream)) >= 3, 30, "the events reaching downstream")
    assert sorted(recorded(downstream)) == sorted(sha1(p) for p in packets)
    assert broker.metric("vohub_broker_accepted_total", path="upstream") == 3
    # The same packet submitted to vohub directly is recognised as already seen.
    assert "Previously seen by this broker" in sendvo(comet_venv, broker.receive[1], packets[1])[1]


@pytest.mark.parametrize("filters", [[], ["//Who"]], ids=["all", "filtered"])
def test_a_comet_subscriber_is_kept_though_it_never_acks_packets_without_a_role(
    broker_factory: BrokerFactory, comet_factory: CometFactory, tmp_path: Path, filters: list[str]
) -> None:
    """A VOEvent may leave out its role (the schema's default is observation): vohub relays it,
    Comet's subscriber calls it "incomprehensible" and sends nothing back. Counted as a missed
    ack, three such packets got a healthy Comet dropped at the next iamalive."""
    config = tmp_path / "broker.toml"
    config.write_text("[broker]\nmax_missed_acks = 2\n")
    broker = broker_factory(iamalive=0.3, extra=["--config", str(config)])
    everything = recorder(tmp_path / "all")
    comet_factory(name="sub", receive=False, broadcast=False, cmd=str(everything),
                  remotes=[f"127.0.0.1:{broker.broadcast[1]}"], filters=filters)  # fmt: skip
    wait_until(lambda: "subscriber.filters" in broker.log(), 30, "a Comet subscribing to vohub")
    roleless = BAT.replace(b' role="observation"', b"", 1)
    for number in range(3):
        packet = with_ivorn(roleless, f"ivo://vohub.test/e2e#roleless-{number}")
        assert type(publish_now(broker.receive[1], packet)).__name__ == "Ack"
    last = with_ivorn(BAT, "ivo://vohub.test/e2e#with-role")
    assert type(publish_now(broker.receive[1], last)).__name__ == "Ack"
    wait_until(lambda: recorded(everything) == [sha1(last)], 30, "Comet recording the last packet")
    pings = broker.metric("vohub_broker_subscriber_replies_total", role="iamalive")
    wait_until(lambda: broker.metric("vohub_broker_subscriber_replies_total", role="iamalive")
               >= pings + 2, 30, "Comet answering two more iamalives")  # fmt: skip
    assert broker.metric("vohub_broker_subscribers_dropped_total", reason="acknowledging") == 0
    assert broker.metric("vohub_broker_subscribers", kind="vtp") == 1
    assert broker.metric("vohub_broker_subscriber_replies_total", role="ack") == 1

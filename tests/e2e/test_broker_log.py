"""The broker's log stays structured when it spawns a process per packet."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from vohub.testing.broker import BrokerFactory, wait_until, with_ivorn
from vohub.testing.ports import free_port
from vohub.vtp import Ack
from vohub.vtp.client import publish

pytestmark = [pytest.mark.e2e]

BAT = (Path(__file__).resolve().parents[2] / "data" / "voevents" / "fourpisky-core"
       / "BAT_GRB_Pos_558756-820.xml").read_bytes()  # fmt: skip


def test_every_log_line_is_key_value_while_exec_handlers_run_and_the_archive_is_down(
    broker_factory: BrokerFactory, tmp_path: Path
) -> None:
    # The unreachable archive keeps a gRPC thread busy reconnecting while each packet's
    # handler is forked: the case in which gRPC's own fork hook used to write a plain line.
    handled = tmp_path / "handled"
    handler = f"sh -c 'cat >/dev/null; echo $VOHUB_IVORN $VOHUB_ROLE >> {handled}'"
    broker = broker_factory(extra=["--exec", handler, "--archive", f"127.0.0.1:{free_port()}"])
    for i in range(12):
        packet = with_ivorn(BAT, f"ivo://vohub.test/e2e#log-{i}")
        assert isinstance(asyncio.run(publish("127.0.0.1", broker.receive[1], packet)), Ack)
    wait_until(
        lambda: handled.exists() and len(handled.read_text().splitlines()) == 12,
        30, "the handler running once per packet",
    )  # fmt: skip
    runs = sorted(handled.read_text().splitlines())
    assert runs == sorted(f"ivo://vohub.test/e2e#log-{i} observation" for i in range(12))
    lines = [line for line in broker.log().splitlines() if line.strip()]
    assert lines
    assert [line for line in lines if not line.startswith("ts=")] == []

"""``vohub up`` (what ``make run`` starts): one command runs a hub that receives and answers."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from vohub.testing.ports import free_port
from vohub.testing.process import SupervisedProcess

REPO = Path(__file__).resolve().parents[2]
PACKET = REPO / "data" / "voevents" / "voeventdb" / "XRT_Pos_655721-326.xml"
IVORN = "ivo://nasa.gsfc.gcn/SWIFT#XRT_Pos_655721-326"


def get_json(url: str) -> object:
    with urllib.request.urlopen(url, timeout=5) as reply:
        return json.load(reply)


def healthy(url: str) -> bool:
    try:
        return get_json(url) == {"archive": "SERVING", "status": "ok"}
    except OSError:
        return False


@pytest.mark.e2e
def test_up_receives_archives_and_answers(tmp_path: Path) -> None:
    names = ("receive", "broadcast", "broker", "archive", "ops", "http")
    ports = {name: free_port() for name in names}
    hub = SupervisedProcess(
        "vohub-up",
        [
            sys.executable, "-m", "vohub.cli", "up",
            "--data-dir", str(tmp_path / "var"),
            "--receive-port", str(ports["receive"]),
            "--broadcast-port", str(ports["broadcast"]),
            "--broker-grpc-port", str(ports["broker"]),
            "--archive-grpc-port", str(ports["archive"]),
            "--archive-ops-port", str(ports["ops"]),
            "--http-port", str(ports["http"]),
            "--log-format", "json",
        ],
        log_dir=tmp_path,
    )  # fmt: skip
    base = f"http://127.0.0.1:{ports['http']}"
    with hub.start():
        hub.wait_ready(lambda: healthy(f"{base}/healthz"), deadline=60)
        hub.wait_output("broker.started", deadline=30)
        assert get_json(f"http://127.0.0.1:{ports['ops']}/healthz") == {"status": "ok", "db": True}
        publish = SupervisedProcess(
            "publish",
            [sys.executable, "-m", "vohub.cli", "publish", str(PACKET),
             "--to", f"127.0.0.1:{ports['receive']}"],
            log_dir=tmp_path,
        )  # fmt: skip
        with publish.start():
            publish.wait_ready(lambda: publish.returncode is not None, deadline=30)
        assert publish.returncode == 0, publish.output()
        assert f"ACK {PACKET} {IVORN}" in publish.output()

        deadline = time.monotonic() + 30
        while get_json(f"{base}/apiv1/count")["result"] != 1:  # type: ignore[index]
            assert time.monotonic() < deadline, hub.output()
            time.sleep(0.2)
        listed = get_json(f"{base}/apiv1/list/ivorn")
        assert listed["result"] == [IVORN]  # type: ignore[index]
        os.kill(hub.pid, signal.SIGTERM)  # the supervisor alone: it must stop its children
        hub.wait_ready(lambda: hub.returncode is not None, deadline=60)
    assert hub.returncode == 0, hub.output()
    assert (tmp_path / "var" / "archive.db").exists()
    lines = [json.loads(line) for line in hub.output().splitlines()]  # every line is JSON
    started = {line["child"] for line in lines if line["event"] == "child.started"}
    assert started == {"archive", "broker", "gateway"}
    assert {"up", "archive", "broker", "gateway"} == {line["service"] for line in lines}
    assert any(line["event"] == "child.stopped" for line in lines)


@pytest.mark.e2e
def test_up_stops_at_a_configuration_error(tmp_path: Path) -> None:
    config = tmp_path / "hub.toml"
    config.write_text('[gateway]\nworkers = "two"\n')
    argv = [sys.executable, "-m", "vohub.cli", "up", "--data-dir", str(tmp_path / "var"),
            "--config", str(config), "--http-port", str(free_port()),
            "--archive-grpc-port", str(free_port()), "--archive-ops-port", str(free_port()),
            "--broker-grpc-port", str(free_port()),
            "--receive-port", str(free_port()), "--broadcast-port", str(free_port())]  # fmt: skip
    hub = SupervisedProcess("vohub-up", argv, log_dir=tmp_path)
    with hub.start():
        hub.wait_ready(lambda: hub.returncode is not None, deadline=60)
    assert hub.returncode == 2, hub.output()
    assert "gateway.workers: must be int, not 'two'" in hub.output()
    assert hub.output().count("child=gateway pid=") == 1  # not restarted
    assert "event=child.misconfigured child=gateway" in hub.output()

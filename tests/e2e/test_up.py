"""``vohub up`` (what ``make run`` starts): one command runs a hub that receives and answers."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
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


PORT_FLAGS = ("--receive-port", "--broadcast-port", "--broker-grpc-port", "--broker-ops-port",
              "--archive-grpc-port", "--archive-ops-port", "--http-port")  # fmt: skip


@contextlib.contextmanager
def running_hub(
    tmp_path: Path, *extra: str, loopback: str = "127.0.0.1"
) -> Iterator[tuple[SupervisedProcess, dict[str, int]]]:
    """``vohub up`` (stopped on leaving), once it says it is ready: its gateway is healthy
    (so the archive serves) and its broker started."""
    argv, ports = up_command(tmp_path, *extra)
    hub = SupervisedProcess("vohub-up", argv, log_dir=tmp_path)
    with hub.start():
        hub.wait_output("hub.ready", deadline=60)
        assert healthy(f"http://{loopback}:{ports['http']}/healthz"), hub.output()
        assert "broker.started" in hub.output()
        yield hub, ports


def up_command(tmp_path: Path, *extra: str) -> tuple[list[str], dict[str, int]]:
    """``vohub up`` on free ports, and the port of each flag (``http``, ``receive``, ...)."""
    ports = {flag: free_port() for flag in PORT_FLAGS}
    argv = [sys.executable, "-m", "vohub.cli", "up", "--data-dir", str(tmp_path / "var"), *extra]
    for flag, port in ports.items():
        argv += [flag, str(port)]
    return argv, {flag.removeprefix("--").removesuffix("-port"): p for flag, p in ports.items()}


@pytest.mark.e2e
def test_up_receives_archives_and_answers(tmp_path: Path) -> None:
    with running_hub(tmp_path, "--log-format", "json") as (hub, ports):
        base = f"http://127.0.0.1:{ports['http']}"
        assert get_json(f"http://127.0.0.1:{ports['broker-ops']}/healthz")["status"] == "ok"
        assert get_json(f"http://127.0.0.1:{ports['archive-ops']}/healthz") == {
            "status": "ok",
            "db": True,
        }
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
    [ready] = [line for line in lines if line["event"] == "hub.ready"]
    assert (ready["http"], ready["receive"], ready["broadcast"]) == tuple(
        f"127.0.0.1:{ports[name]}" for name in ("http", "receive", "broadcast")
    )
    assert {"up", "archive", "broker", "gateway"} == {line["service"] for line in lines}
    stopped = {line["child"]: line["status"] for line in lines if line["event"] == "child.stopped"}
    assert stopped == {"archive": 0, "broker": 0, "gateway": 0}


@pytest.mark.e2e
def test_ctrl_c_stops_every_process_cleanly(tmp_path: Path) -> None:
    with running_hub(tmp_path, "--log-format", "json") as (hub, _):
        os.killpg(hub.pid, signal.SIGINT)  # a terminal's Ctrl-C reaches the whole group
        hub.wait_ready(lambda: hub.returncode is not None, deadline=60)
    assert hub.returncode == 0, hub.output()
    lines = [json.loads(line) for line in hub.output().splitlines()]  # no traceback anywhere
    stopped = {line["child"]: line["status"] for line in lines if line["event"] == "child.stopped"}
    assert stopped == {"archive": 0, "broker": 0, "gateway": 0}
    assert not [line for line in lines if line["level"] in ("warning", "error")]


@pytest.mark.e2e
def test_up_stops_at_a_configuration_error(tmp_path: Path) -> None:
    config = tmp_path / "hub.toml"
    config.write_text('[gateway]\nworkers = "two"\n')
    argv, _ = up_command(tmp_path, "--config", str(config))
    hub = SupervisedProcess("vohub-up", argv, log_dir=tmp_path)
    with hub.start():
        hub.wait_ready(lambda: hub.returncode is not None, deadline=60)
    assert hub.returncode == 2, hub.output()
    assert "gateway.workers: must be int, not 'two'" in hub.output()
    assert hub.output().count("child=gateway pid=") == 1  # not restarted
    assert "event=child.misconfigured child=gateway" in hub.output()


@pytest.mark.e2e
def test_configuration_file_reaches_every_service(tmp_path: Path) -> None:
    """The file's database and broker identity are used: up's defaults do not mask them."""
    db = tmp_path / "elsewhere.db"
    config = tmp_path / "hub.toml"
    config.write_text(
        f'[archive]\ndb = "sqlite:///{db}"\n\n[broker]\nlocal_ivo = "ivo://example.org/hub"\n'
    )
    extra = ("--config", str(config), "--host", "0.0.0.0", "--log-format", "json")
    with running_hub(tmp_path, *extra) as (hub, ports):
        os.kill(hub.pid, signal.SIGTERM)
        hub.wait_ready(lambda: hub.returncode is not None, deadline=60)
    events = {line["event"]: line for line in map(json.loads, hub.output().splitlines())}
    assert events["archive.listening"]["db"] == f"sqlite:///{db}"
    assert events["broker.started"]["local_ivo"] == "ivo://example.org/hub"
    # Bound on every interface, the services reach each other on the loopback address.
    archive = f"127.0.0.1:{ports['archive-grpc']}"
    assert events["broker.started"]["archive"] == archive
    assert events["gateway.starting"]["archive"] == archive
    assert db.exists()
    assert not (tmp_path / "var" / "archive.db").exists()


@pytest.mark.e2e
def test_host_ipv6_wildcard_listens_on_both_families(tmp_path: Path) -> None:
    with running_hub(tmp_path, "--host", "::", loopback="[::1]") as (hub, ports):
        # The second copy reaches the broker too: refused as already seen.
        for loopback, reply in (("127.0.0.1", "ACK"), ("[::1]", "NAK")):
            for ops in ("archive-ops", "broker-ops"):
                assert get_json(f"http://{loopback}:{ports[ops]}/healthz")["status"] == "ok"
            publish = subprocess.run(
                [sys.executable, "-m", "vohub.cli", "publish", str(PACKET),
                 "--to", f"{loopback}:{ports['receive']}"],
                capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            assert publish.stdout.startswith(f"{reply} "), publish.stdout + publish.stderr
        deadline = time.monotonic() + 30
        while get_json(f"http://[::1]:{ports['http']}/apiv1/count")["result"] != 1:  # type: ignore[index]
            assert time.monotonic() < deadline, hub.output()
            time.sleep(0.2)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (None, "{config}: configuration file not found"),
        ("[broker\nremote = 1\n", "{config}: not valid TOML: Expected ']' at the end of a table"),
        ('[brokr]\nremote = ["gcn.example.org"]\n', "brokr: no service reads this table"),
    ],
)
def test_a_bad_configuration_file_stops_up_before_any_service(
    tmp_path: Path, text: str | None, error: str
) -> None:
    config = tmp_path / "hub.toml"
    if text is not None:
        config.write_text(text)
    done = subprocess.run(
        [sys.executable, "-m", "vohub.cli", "up", "--config", str(config),
         "--data-dir", str(tmp_path / "var")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.startswith(f"vohub up: configuration error: {error.format(config=config)}")
    assert "child.started" not in done.stderr


@pytest.mark.e2e
def test_a_port_in_use_stops_up_before_any_service(tmp_path: Path) -> None:
    argv, ports = up_command(tmp_path)
    with socket.create_server(("127.0.0.1", ports["http"])):
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert done.stderr.startswith(
        f"vohub up: 127.0.0.1:{ports['http']}: --http-port: Address already in use"
    )
    assert "child.started" not in done.stderr
    assert "hub.ready" not in done.stderr


@pytest.mark.e2e
def test_a_port_given_twice_stops_up(tmp_path: Path) -> None:
    argv, ports = up_command(tmp_path)
    argv[argv.index("--broadcast-port") + 1] = str(ports["receive"])
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert "--broadcast-port: the same port as --receive-port" in done.stderr
    assert "child.started" not in done.stderr


@pytest.mark.e2e
def test_a_misspelt_environment_variable_stops_up(tmp_path: Path) -> None:
    argv, _ = up_command(tmp_path)
    env = {**os.environ, "VOHUB_ARCHIVE_DB": "postgresql://elsewhere/hub"}
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False, env=env)
    assert done.returncode == 2
    assert done.stderr.startswith(
        "vohub up: configuration error: VOHUB_ARCHIVE_DB: not read; a setting takes two "
        "underscores after its section: VOHUB_ARCHIVE__DB"
    )
    assert "child.started" not in done.stderr

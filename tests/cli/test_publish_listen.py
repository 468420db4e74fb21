"""The real ``vohub publish`` and ``vohub listen`` commands against a real Comet 3.1.0 broker."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vohub.testing.comet_broker import CometBroker
from vohub.testing.process import SupervisedProcess

pytestmark = pytest.mark.interop

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data" / "voevents" / "fourpisky-core"
VOHUB = Path(sys.executable).parent / "vohub"
BAT = DATA / "BAT_GRB_Pos_558756-820.xml"
BAT_2 = DATA / "BAT_GRB_Pos_570069-383.xml"
BAT_3 = DATA / "BAT_GRB_Pos_707545-520.xml"
GAIA = DATA / "Gaia16ajo.xml"
ASASSN = DATA / "2016-01-3.62_ASASSN-16ab.xml"
BAT_IVORN = "ivo://nasa.gsfc.gcn/SWIFT#BAT_GRB_Pos_558756-820"
PACKET_61 = "//Param[@name='Packet_Type' and @value='61']"


@pytest.fixture(scope="module")
def vohub() -> str:
    if not VOHUB.is_file():
        pytest.fail(f"the vohub console script is not installed at {VOHUB}")
    return str(VOHUB)


def address(pair: tuple[str, int]) -> str:
    return f"{pair[0]}:{pair[1]}"


def publish(
    vohub: str, comet: CometBroker, *files: Path | str, stdin: bytes = b""
) -> tuple[int, list[str]]:
    done = subprocess.run(
        [vohub, "publish", *map(str, files), "--to", address(comet.receive_address)],
        input=stdin, capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    return done.returncode, done.stdout.decode().splitlines()


def test_publish_reports_ack_nak_and_errors(vohub: str, comet: CometBroker, tmp_path: Path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("not a VOEvent")
    missing = tmp_path / "missing.xml"
    status, lines = publish(vohub, comet, BAT, BAT, junk, missing)
    assert status == 1
    assert lines[0] == f"ACK {BAT} {BAT_IVORN}"
    assert lines[1] == f"NAK {BAT} {BAT_IVORN}: Event rejected: Previously seen by this broker"
    assert lines[2].startswith(f"ERROR {junk}: not sent: malformed XML: Start tag expected")
    assert lines[3] == f"ERROR {missing}: cannot read: No such file or directory"
    assert len(lines) == 4


def test_publish_exits_0_when_everything_is_acked_and_reads_stdin(
    vohub: str, comet: CometBroker
) -> None:
    status, lines = publish(vohub, comet, GAIA, "-", stdin=BAT.read_bytes())
    assert status == 0
    assert lines == [f"ACK {GAIA} ivo://voevent.4pisky.org/GAIA#Gaia16ajo", f"ACK - {BAT_IVORN}"]


def test_publish_to_a_closed_port_is_an_error(vohub: str, comet: CometBroker) -> None:
    comet.stop()
    status, lines = publish(vohub, comet, BAT)
    assert status == 1
    assert lines[0].startswith(f"ERROR {BAT}: cannot reach the broker")
    assert address(comet.receive_address) in lines[0]


def test_publish_usage_errors_exit_2(vohub: str) -> None:
    done = subprocess.run(
        [vohub, "publish", str(BAT), "--to", "localhost"], capture_output=True, check=False
    )
    assert done.returncode == 2
    assert b"bad address 'localhost': expected HOST:PORT" in done.stderr


def start_listener(
    vohub: str, comet: CometBroker, tmp_path: Path, *options: str
) -> SupervisedProcess:
    argv = [vohub, "listen", "--from", address(comet.broadcast_address), *options]
    listener = SupervisedProcess("listen", argv, log_dir=tmp_path).start()
    listener.wait_output("event=vtp.subscribe.authenticated", deadline=15)
    return listener


def events_printed(listener: SupervisedProcess) -> list[str]:
    return [line.split()[1] for line in listener.output().splitlines() if line.startswith("EVENT")]


def ivorn_of(path: Path) -> str:
    text = path.read_text()
    return text.split('ivorn="', 1)[1].split('"', 1)[0]


def test_listen_prints_saves_and_execs_each_packet_exactly_once(
    vohub: str, comet: CometBroker, tmp_path: Path
) -> None:
    save, handled = tmp_path / "saved", tmp_path / "handled"
    handled.mkdir()
    handler = tmp_path / "handler.sh"
    handler.write_text(
        f'#!/bin/sh\nf=$(mktemp "{handled}/run.XXXXXX")\ncat > "$f.part"\n'
        'echo "$VOHUB_IVORN" > "$f.ivorn"\nmv "$f.part" "$f"\n'
    )
    handler.chmod(0o755)
    listener = start_listener(
        vohub, comet, tmp_path, "--save", str(save), "--exec", str(handler), "--local-ivo",
        "ivo://vohub.test/listener",
    )  # fmt: skip
    packets = [BAT, GAIA, ASASSN, BAT_2, BAT_3]
    assert publish(vohub, comet, *packets[:4])[0] == 0
    listener.wait_ready(lambda: len(events_printed(listener)) >= 4, deadline=15)
    # A sentinel: once it is through, any duplicate of the first four would have shown up.
    assert publish(vohub, comet, packets[4])[0] == 0
    listener.wait_ready(lambda: len(events_printed(listener)) >= 5, deadline=15)
    listener.wait_ready(lambda: len(list(handled.glob("run.??????"))) >= 5, deadline=15)
    assert listener.stop() == 0  # SIGTERM: a clean exit

    expected = sorted(ivorn_of(p) for p in packets)
    assert sorted(events_printed(listener)) == expected  # printed exactly once each
    saved = {p.name: p.read_bytes() for p in save.iterdir()}
    assert len(saved) == 5
    assert saved["nasa.gsfc.gcn%2FSWIFT%23BAT_GRB_Pos_558756-820.xml"] == BAT.read_bytes()
    assert sorted(saved.values()) == sorted(p.read_bytes() for p in packets)  # byte-exact
    runs = [p.read_bytes() for p in handled.glob("run.??????")]
    assert collections.Counter(runs) == collections.Counter(p.read_bytes() for p in packets)
    ivorns = sorted(p.read_text().strip() for p in handled.glob("*.ivorn"))
    assert ivorns == expected
    assert "event=listen.exec.done" in listener.output()


def test_listen_filter_is_applied_by_the_broker(
    vohub: str, comet: CometBroker, tmp_path: Path
) -> None:
    listener = start_listener(vohub, comet, tmp_path, "--filter", PACKET_61)
    assert publish(vohub, comet, GAIA, BAT, ASASSN, BAT_2)[0] == 0
    listener.wait_ready(lambda: len(events_printed(listener)) >= 2, deadline=15)
    assert publish(vohub, comet, BAT_3)[0] == 0  # a sentinel: anything earlier has arrived
    listener.wait_ready(lambda: len(events_printed(listener)) >= 3, deadline=15)
    listener.stop()
    assert sorted(events_printed(listener)) == sorted(ivorn_of(p) for p in (BAT, BAT_2, BAT_3))
    comet.wait_for_log(f"Installing filter {PACKET_61}")


def test_listen_exec_failures_are_logged_and_do_not_stop_listening(
    vohub: str, comet: CometBroker, tmp_path: Path
) -> None:
    failing = tmp_path / "fail.sh"
    failing.write_text("#!/bin/sh\ncat > /dev/null\nexit 3\n")
    failing.chmod(0o755)
    listener = start_listener(vohub, comet, tmp_path, "--exec", str(failing), "--count", "2")
    assert publish(vohub, comet, BAT, GAIA)[0] == 0
    listener.wait_ready(lambda: listener.returncode is not None, deadline=15)
    assert listener.returncode == 0  # --count 2 reached
    assert len(events_printed(listener)) == 2
    assert listener.output().count("event=listen.exec.failed") == 2
    assert 'error="exit: status 3"' in listener.output()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--filter", "//[bad"], "invalid XPath filter '//[bad'"),
        (["--exec", "/nonexistent/handler"], "/nonexistent/handler is not an executable"),
        (["--exec", "cat", "--exec-jobs", "0"], "--exec-jobs: expected a whole number of at"),
        (["--count", "0"], "--count: expected a whole number of at least 1, got '0'"),
        (["--local-ivo", "notivo"], "--local-ivo 'notivo': invalid IVORN: not of the form"),
        (["--save", "{file}"], "--save {file}: not a folder: a file is in the way"),
        (["--save", "{file}/sub"], "--save {file}/sub: not a folder: {file} is a file"),
    ],
)
def test_listen_bad_options_exit_2_naming_the_culprit(
    vohub: str, options: list[str], message: str, tmp_path: Path
) -> None:
    file = tmp_path / "saved.xml"
    file.write_text("")
    options = [option.format(file=file) for option in options]
    done = subprocess.run(
        [vohub, "listen", "--from", "127.0.0.1:9", *options], capture_output=True, check=False
    )
    assert done.returncode == 2
    assert message.format(file=file) in done.stderr.decode()
    assert "Traceback" not in done.stderr.decode()


def test_listen_stops_on_sigint(vohub: str, comet: CometBroker, tmp_path: Path) -> None:
    listener = start_listener(vohub, comet, tmp_path)
    os.killpg(listener.pid, signal.SIGINT)
    listener.wait_ready(lambda: listener.returncode is not None, deadline=10)
    assert listener.returncode == 0
    assert "event=listen.stopped" in listener.output()


def gated_handler(tmp_path: Path) -> Path:
    """A handler that records its start, then waits for a gate file before reading its packet."""
    handler = tmp_path / "gated.sh"
    handler.write_text(
        "#!/bin/sh\n"
        f'touch "{tmp_path}/started.$$"\n'
        f'while [ ! -e "{tmp_path}/gate" ]; do sleep 0.05; done\n'
        f'cat > "{tmp_path}/done.$$"\n'
    )
    handler.chmod(0o755)
    return handler


def test_listen_exec_is_bounded_and_never_blocks_the_listener(
    vohub: str, comet: CometBroker, tmp_path: Path
) -> None:
    handler = gated_handler(tmp_path)
    listener = start_listener(vohub, comet, tmp_path, "--exec", str(handler), "--exec-jobs", "1")
    assert publish(vohub, comet, BAT, GAIA, ASASSN)[0] == 0
    # All three packets are printed while the first handler is still stuck at the gate ...
    listener.wait_ready(lambda: len(events_printed(listener)) == 3, deadline=15)
    listener.wait_ready(lambda: len(list(tmp_path.glob("started.*"))) >= 1, deadline=15)
    # ... and with --exec-jobs 1 no second handler can have started.
    assert len(list(tmp_path.glob("started.*"))) == 1
    (tmp_path / "gate").touch()
    listener.wait_ready(lambda: len(list(tmp_path.glob("done.*"))) == 3, deadline=15)
    listener.stop()
    contents = sorted(p.read_bytes() for p in tmp_path.glob("done.*"))
    assert contents == sorted(p.read_bytes() for p in (BAT, GAIA, ASASSN))


def test_listen_exec_timeout_kills_the_handler_and_what_it_started(
    vohub: str, comet: CometBroker, tmp_path: Path
) -> None:
    handler = tmp_path / "spawner.sh"  # the gated work runs in a child of the handler
    handler.write_text(
        "#!/bin/sh\n"
        f'(while [ ! -e "{tmp_path}/gate" ]; do sleep 0.05; done; touch "{tmp_path}/done") &\n'
        "wait\n"
    )
    handler.chmod(0o755)
    listener = start_listener(
        vohub, comet, tmp_path, "--exec", str(handler), "--exec-timeout", "0.5"
    )
    assert publish(vohub, comet, BAT)[0] == 0
    listener.wait_output("event=listen.exec.timeout", deadline=15)
    (tmp_path / "gate").touch()  # a surviving child would now write its done file
    time.sleep(0.5)
    listener.stop()
    assert f"ivorn={BAT_IVORN}" in listener.output()
    assert not (tmp_path / "done").exists()


def test_listen_count_exits_after_every_handler_has_run(
    vohub: str, comet: CometBroker, tmp_path: Path
) -> None:
    """Handlers that together outlast the stop grace period (5 s) all still run."""
    handler = tmp_path / "slow.sh"
    handler.write_text(f'#!/bin/sh\nsleep 2\ncat > "{tmp_path}/done.$$"\n')
    handler.chmod(0o755)
    listener = start_listener(
        vohub, comet, tmp_path, "--exec", str(handler), "--exec-jobs", "1", "--count", "3"
    )
    assert publish(vohub, comet, BAT, GAIA, ASASSN)[0] == 0
    listener.wait_ready(lambda: listener.returncode is not None, deadline=30)
    assert listener.returncode == 0
    contents = sorted(p.read_bytes() for p in tmp_path.glob("done.*"))
    assert contents == sorted(p.read_bytes() for p in (BAT, GAIA, ASASSN))
    assert listener.output().count("event=listen.exec.done") == 3


def test_listen_stopped_names_the_handlers_it_killed_or_never_ran(
    vohub: str, comet: CometBroker, tmp_path: Path
) -> None:
    handler = gated_handler(tmp_path)  # the gate never opens
    listener = start_listener(vohub, comet, tmp_path, "--exec", str(handler), "--exec-jobs", "1")
    assert publish(vohub, comet, BAT, GAIA, ASASSN)[0] == 0
    listener.wait_ready(lambda: len(events_printed(listener)) == 3, deadline=15)
    listener.wait_ready(lambda: len(list(tmp_path.glob("started.*"))) == 1, deadline=15)
    os.kill(listener.pid, signal.SIGTERM)  # the listener alone: its handler is not signalled
    listener.wait_ready(lambda: listener.returncode is not None, deadline=30)
    assert listener.returncode == 0, listener.output()
    lines = listener.output().splitlines()
    killed = [line for line in lines if "event=listen.exec.killed" in line]
    skipped = [line for line in lines if "event=listen.exec.skipped" in line]
    assert len(killed) == 1
    assert f"ivorn={BAT_IVORN}" in killed[0]  # the first packet's handler was running
    assert len(skipped) == 2
    assert len(list(tmp_path.glob("started.*"))) == 1  # no handler started after the signal

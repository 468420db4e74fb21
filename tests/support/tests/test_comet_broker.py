"""The Comet runner: a real Comet 3.1.0, listening on 127.0.0.1 only, found or reported missing."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from vohub.testing.comet_broker import CometBroker, CometOptions, find_comet_venv, start_comet
from vohub.testing.errors import PeerMissing, PortNotServed, ProcessFailed
from vohub.testing.fixtures import CometFactory
from vohub.testing.ports import free_port, port_open

pytestmark = pytest.mark.interop


def other_local_address() -> str | None:
    """A non-loopback address of this machine, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent for UDP connect
        except OSError:
            return None
        address: str = probe.getsockname()[0]
    return None if address.startswith("127.") else address


def test_comet_listens_on_loopback_only(comet: CometBroker) -> None:
    for port in (comet.receive_address[1], comet.broadcast_address[1]):
        assert port_open(port)
        elsewhere = other_local_address()
        if elsewhere is not None:
            assert not port_open(port, host=elsewhere)
    assert "starting on" in comet.log()


def test_comet_command_line(tmp_path: Path, comet_venv: Path) -> None:
    options = CometOptions(
        local_ivo="ivo://vohub.test/c", remotes=["127.0.0.1:1"], filters=["//Why"],
        cmd="/bin/true", broadcast=False, receive_port=12345,
    )  # fmt: skip
    broker = CometBroker(options, tmp_path, comet_venv, name="c")
    argv = broker.argv()
    assert argv[:3] == [str(comet_venv / "bin" / "python"), argv[1], "-n"]
    assert argv[1].endswith("comet_launcher.py")
    text = " ".join(argv[3:])
    for part in (
        "comet --local-ivo ivo://vohub.test/c",
        "--receive --receive-port 12345",
        "--remote 127.0.0.1:1",
        "--filter //Why",
        "--cmd /bin/true",
        "--broadcast-test-interval 0",
    ):
        assert part in text
    assert "--broadcast " not in text
    with pytest.raises(PortNotServed, match="without --broadcast"):
        _ = broker.broadcast_address


def test_bad_comet_options_fail_with_comets_own_message(comet_factory: CometFactory) -> None:
    with pytest.raises(ProcessFailed) as caught:
        comet_factory(name="bad", local_ivo="not an ivoid")
    assert "bad: exited with status" in str(caught.value)
    assert "Invalid IVOA identifier: not an ivoid" in str(caught.value)


def test_missing_comet_is_reported_with_the_fix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("VOHUB_COMET_VENV", str(tmp_path / "nowhere"))
    with pytest.raises(PeerMissing, match="run scripts/install-peers"):
        find_comet_venv()


def test_start_comet_on_chosen_ports(tmp_path: Path) -> None:
    receive, broadcast = free_port(), free_port()
    options = CometOptions(receive_port=receive, broadcast_port=broadcast)
    with start_comet(tmp_path, options) as comet:
        assert comet.receive_address == ("127.0.0.1", receive)
        assert comet.broadcast_address == ("127.0.0.1", broadcast)
    assert not port_open(receive)

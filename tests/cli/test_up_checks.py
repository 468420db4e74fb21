"""What ``vohub up`` refuses before it starts any service: ports out of range, and settings of
the file or the environment that it decides itself (they would be silently overridden)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from vohub.cli.main import main
from vohub.cli.up import check_up_settings
from vohub.common.config import read_toml
from vohub.common.errors import ConfigError

PORTS_TOML = '[broker]\nreceive = "127.0.0.1:9598"\n\n[gateway]\nbind = "127.0.0.1:9580"\n'
#: One port for two flags: were the check under test missing, ``up`` would stop at this
#: (status 1) instead of starting a hub.
SAME_PORT_TWICE = ["--broker-grpc-port", "50999", "--archive-grpc-port", "50999"]


@pytest.mark.parametrize(
    ("env", "error"),
    [
        (
            {"VOHUB_GATEWAY__BIND": "127.0.0.1:9580"},
            "VOHUB_GATEWAY__BIND: vohub up sets this itself; "
            "use vohub up --http-port (and --host) instead",
        ),
        (
            {"VOHUB_BROKER__BROADCAST": "127.0.0.1:9599"},
            "VOHUB_BROKER__BROADCAST: vohub up sets this itself; "
            "use vohub up --broadcast-port (and --host) instead",
        ),
        (
            {"VOHUB_ARCHIVE__DATA_DIR": "elsewhere"},
            "VOHUB_ARCHIVE__DATA_DIR: vohub up sets this itself; use vohub up --data-dir instead",
        ),
    ],
)
def test_a_listen_address_in_the_environment_is_refused(env: dict[str, str], error: str) -> None:
    with pytest.raises(ConfigError) as err:
        check_up_settings({}, env)
    assert str(err.value) == error


def test_a_listen_address_in_the_file_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "ports.toml"
    config.write_text(PORTS_TOML)
    with pytest.raises(ConfigError) as err:
        check_up_settings(read_toml(config, {}), {})
    assert str(err.value) == (
        "broker.receive: vohub up sets this itself; "
        "use vohub up --receive-port (and --host) instead"
    )


def test_settings_up_leaves_to_the_services_pass() -> None:
    tables = {"broker": {"local_ivo": "ivo://example.org/hub"}, "gateway": {"workers": 4}}
    env = {"VOHUB_GATEWAY__WORKERS": "4", "VOHUB_ARCHIVE__DB": "sqlite:///x.db", "VOHUB_X": "1"}
    check_up_settings(tables, env)


@pytest.mark.parametrize(
    ("text", "env", "error"),
    [
        (PORTS_TOML, {}, "broker.receive: vohub up sets this itself; "
         "use vohub up --receive-port (and --host) instead"),
        ("", {"VOHUB_GATEWAY__BIND": "127.0.0.1:9580", "VOHUB_BROKER__BROADCAST": "127.0.0.1:9599"},
         "VOHUB_BROKER__BROADCAST: vohub up sets this itself; "
         "use vohub up --broadcast-port (and --host) instead"),
    ],
    ids=["file", "environment"],
)  # fmt: skip
def test_up_stops_at_a_listen_address(
    tmp_path: Path, text: str, env: dict[str, str], error: str
) -> None:
    config = tmp_path / "ports.toml"
    config.write_text(text)
    done = subprocess.run(
        [sys.executable, "-m", "vohub.cli", "up", "--config", str(config),
         "--data-dir", str(tmp_path / "var"), *SAME_PORT_TWICE],
        capture_output=True, text=True, timeout=60, check=False, env={**os.environ, **env},
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr == f"vohub up: configuration error: {error}\n"


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--http-port", "70000"), ("--receive-port", "-5"), ("--http-port", "0"),
     ("--archive-ops-port", "http")],
)  # fmt: skip
def test_a_port_out_of_range_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, flag: str, value: str
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["up", "--data-dir", str(tmp_path / "var"), flag, value, *SAME_PORT_TWICE])
    assert exit_.value.code == 2
    assert (
        f"vohub up: error: argument {flag}: expected a port number from 1 to 65535, got {value!r}"
        in capsys.readouterr().err
    )


def test_help_gives_every_ports_default(capsys: pytest.CaptureFixture[str]) -> None:
    """--broker-grpc-port and --archive-grpc-port had no help, and no port its default."""
    with pytest.raises(SystemExit):
        main(["up", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    ports = {"receive": 8098, "broadcast": 8099, "broker-grpc": 50052, "broker-ops": 9152,
             "archive-grpc": 50051, "archive-ops": 9151, "http": 8080}  # fmt: skip
    for name, default in ports.items():
        flag = f"--{name}-port {name.replace('-', '_').upper()}_PORT"
        assert re.search(rf"{flag} [a-zA-Z/ ,]+ \(default {default}\)", shown), flag

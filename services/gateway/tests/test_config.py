"""Configuration: TOML, environment and flags, with start-up errors that name the bad key."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from vohub.common.errors import ConfigError
from vohub.gateway import cli
from vohub.gateway.config import load


def parsed(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return parser.parse_args(argv)


def test_toml_env_and_flags_in_priority_order(tmp_path: Path) -> None:
    path = tmp_path / "vohub.toml"
    path.write_text('[gateway]\nworkers = 3\nbind = "127.0.0.1:9000"\nmax_requests = 200\n')
    env = {"VOHUB_GATEWAY__WORKERS": "5", "VOHUB_GATEWAY__ARCHIVE": "10.1.2.3:50051"}
    config = load(path, {"bind": "127.0.0.1:9100"}, env)
    assert (config.workers, config.max_requests, config.bind, config.archive) == (
        5,
        200,
        "127.0.0.1:9100",
        "10.1.2.3:50051",
    )


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ("[gateway]\nworkrs = 3\n", "gateway.workrs: unknown key"),
        ("[gateway]\nworkers = 0\n", "gateway.workers: must be between 1 and 64"),
        ('[gateway]\nbind = "localhost"\n', "gateway.bind"),
        ('[gateway]\nlog_format = "xml"\n', "gateway.log_format"),
        ('[gateway]\nlog_level = "LOUD"\n', "gateway.log_level: must be one of DEBUG, INFO,"),
        ('[gateway]\narchive = "10.0.0.2:1,archive-b:2"\n', "'archive-b' is not an IP address"),
        ('[gateway]\narchive = "10.0.0.2:1,[::1]:2"\n', "mixes IPv4 and IPv6"),
    ],
)
def test_bad_settings_name_the_key(tmp_path: Path, toml: str, key: str) -> None:
    path = tmp_path / "vohub.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError, match=key.replace("(", r"\(")):
        load(path, env={})


def test_cli_exits_2_naming_the_misspelt_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "vohub.toml"
    path.write_text("[gateway]\narchiv = '127.0.0.1:1'\n")
    assert cli.run(parsed("--config", str(path))) == 2
    assert "gateway.archiv: unknown key" in capsys.readouterr().err


def test_flags_become_gunicorn_settings() -> None:
    config = load(overrides={"workers": 4, "max_requests": 50, "bind": "127.0.0.1:9001"}, env={})
    settings = cli.gunicorn_settings(config)
    assert settings["bind"] == ["127.0.0.1:9001"]
    assert (settings["workers"], settings["max_requests"]) == (4, 50)
    assert settings["logger_class"] == "vohub.gateway.glog.StructuredLogger"
    assert settings["preload_app"] is False


def test_a_larger_max_uri_bytes_raises_gunicorns_request_line_limit() -> None:
    default = cli.gunicorn_settings(load(env={}))
    assert default["limit_request_line"] == 8190  # 8 000-byte targets and the method fit
    wide = cli.gunicorn_settings(load(env={"VOHUB_GATEWAY__MAX_URI_BYTES": "20000"}))
    assert wide["limit_request_line"] >= 20000 + len("OPTIONS  HTTP/1.1")


def test_help_gives_the_defaults_the_gateway_uses() -> None:
    """--archive's help said ':50051', where the gateway asks 127.0.0.1:50051."""
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    shown = " ".join(parser.format_help().split())
    defaults = load(None, {}, {})
    assert f"--bind BIND HTTP listen address HOST:PORT (default {defaults.bind})" in shown
    assert f"archive gRPC address HOST:PORT (default {defaults.archive})," in shown

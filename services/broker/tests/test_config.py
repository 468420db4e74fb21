"""Configuration: defaults, precedence, and start-up errors that name the bad key."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from vohub.broker import cli
from vohub.broker.config import BrokerConfig, load
from vohub.common.errors import ConfigError


def test_defaults_listen_on_loopback_and_whitelist_loopback_authors() -> None:
    config = load(env={})
    assert config == BrokerConfig()
    assert str(config.address("receive")) == "127.0.0.1:8098"
    assert str(config.address("broadcast")) == "127.0.0.1:8099"
    assert str(config.address("grpc")) == "127.0.0.1:50052"
    assert config.author_whitelist == ["127.0.0.0/8", "::1/128"]
    assert config.dedup_expiry_days >= 30


def test_file_then_environment_then_flags(tmp_path: Path) -> None:
    path = tmp_path / "vohub.toml"
    path.write_text('[broker]\nvalidation = "lenient"\nremote = ["a.example:8099"]\n')
    env = {"VOHUB_BROKER__REMOTE": "b.example,c.example:9", "VOHUB_BROKER__EXEC_TIMEOUT": "5"}
    config = load(path, env=env, overrides={"exec_timeout": 7.5, "archive": None})
    assert config.validation == "lenient"
    assert [str(a) for a in config.remotes()] == ["b.example:8099", "c.example:9"]
    assert config.exec_timeout == 7.5


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"author_whitelist": ["127.0.0.1", "::1", "10.0.0.0/33"]},
         "broker.author_whitelist[2]: not a CIDR network: '10.0.0.0/33'"),
        ({"recieve": "127.0.0.1:1"}, "broker.recieve: unknown key"),
        ({"iamalive_interval": 150}, "broker.iamalive_interval: must be between 0 and 120 s"),
        ({"max_outbound_vtp_bytes": 100_000}, "broker.max_outbound_vtp_bytes: must be between"),
        ({"max_inbound_bytes": 1000}, "broker.max_inbound_bytes: must be between 99999"),
        ({"max_inbound_bytes": 3_000_000}, "and 1048576 bytes (what the archive stores"),
        ({"local_ivo": "http://x"}, "broker.local_ivo: not an IVOID: 'http://x'"),
        ({"filter": ["//Why", "//[bad"]}, "broker.filter[1]: XPath '//[bad' does not compile"),
        ({"receive": "localhost:http"}, "broker.receive: port of 'localhost:http' is not a number"),
        ({"validation": "loose"}, "broker.validation: must be one of 'strict', 'lenient'"),
        ({"exec": ["/no/such/handler --flag"]}, "broker.exec[0]: '/no/such/handler' is not an"),
    ],
)  # fmt: skip
def test_bad_settings_name_their_key(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(env={}, overrides=overrides)
    assert message in str(caught.value)


def test_cli_exits_2_naming_a_misspelt_environment_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VOHUB_BROKER__AUTHOR_WHITELSIT", "10.0.0.0/8")
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    assert cli.run(parser.parse_args([])) == 2
    assert "broker.author_whitelsit: unknown key" in capsys.readouterr().err


def test_cli_flags_reach_the_configuration(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args(["--author-whitelist", "10.0.0.0/8", "--author-whitelist", "bad"])
    assert cli.run(args) == 2
    assert "broker.author_whitelist[1]: not a CIDR network: 'bad'" in capsys.readouterr().err

"""Configuration: defaults, precedence, and start-up errors that name the bad key."""

from __future__ import annotations

import argparse
import sys
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


@pytest.mark.parametrize(
    ("toml", "env", "key"),
    [
        ("author_timeout = nan", {}, "broker.author_timeout"),
        ("", {"VOHUB_BROKER__DEDUP_EXPIRY_DAYS": "nan"}, "broker.dedup_expiry_days"),
        ("filter_timeout = nan", {}, "broker.filter_timeout"),
        ("", {"VOHUB_BROKER__EXEC_TIMEOUT": "NaN"}, "broker.exec_timeout"),
        ("archive_timeout = inf", {}, "broker.archive_timeout"),
        ("", {"VOHUB_BROKER__ACK_TIMEOUT": "-inf"}, "broker.ack_timeout"),
    ],
)
def test_cli_exits_2_on_a_number_that_is_not_finite(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    toml: str,
    env: dict[str, str],
    key: str,
) -> None:
    """NaN compares false with everything: it would switch dedup off or break every author."""
    path = tmp_path / "vohub.toml"
    path.write_text(f"[broker]\n{toml}\n")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    # A file as data folder: should the setting pass, the broker stops at once, serving nothing.
    flags = ["--config", str(path), "--data-dir", str(path)]
    assert cli.run(parser.parse_args(flags)) == 2
    assert f"{key}: must be a finite number" in capsys.readouterr().err


def test_a_list_setting_given_one_string_in_the_file_is_one_item(tmp_path: Path) -> None:
    """XPath and command lines hold commas; only an environment variable is split on them."""
    xpath = "//Param[@value='61' or @value='67'] | //What[contains(., 'GRB')]"
    command = f"{sys.executable} -c pass --tags grb,swift"
    path = tmp_path / "vohub.toml"
    path.write_text(f'[broker]\nfilter = "{xpath}"\nexec = "{command}"\n')
    config = load(path, env={})
    assert config.filter == [xpath]
    assert config.commands() == [[sys.executable, "-c", "pass", "--tags", "grb,swift"]]
    env = {"VOHUB_BROKER__EXEC": f"{sys.executable} -V,{sys.executable} -c pass"}
    assert load(path, env=env).exec == [f"{sys.executable} -V", f"{sys.executable} -c pass"]

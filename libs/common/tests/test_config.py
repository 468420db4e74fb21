"""Configuration loading: precedence, coercion and errors that name the key."""

from __future__ import annotations

import dataclasses
import ipaddress
from pathlib import Path
from typing import Literal

import pytest

from vohub.common.config import checked, load_config
from vohub.common.errors import ConfigError


def cidr(value: str) -> None:
    try:
        ipaddress.ip_network(value)
    except ValueError:
        raise ValueError("not a CIDR network") from None


@dataclasses.dataclass(frozen=True)
class Receive:
    port: int = 8098
    whitelist: list[str] = checked(["127.0.0.0/8"], cidr, each=True)


@dataclasses.dataclass(frozen=True)
class Broker:
    receive: Receive = dataclasses.field(default_factory=Receive)
    validation: Literal["strict", "lenient"] = "strict"
    spool: Path = Path("var/spool")
    remotes: tuple[str, ...] = ()
    filters: list[str] = dataclasses.field(default_factory=list)
    archive: str | None = None
    verbose: bool = False
    expiry_days: float = 30.0


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "vohub.toml"
    path.write_text(text)
    return path


def test_defaults_when_nothing_is_given() -> None:
    config = load_config(Broker, "broker", env={})
    assert config == Broker()
    assert config.receive.whitelist == ["127.0.0.0/8"]


def test_file_then_environment_then_overrides(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[broker]\nvalidation = "lenient"\nremotes = ["a:8099"]\n'
        "[broker.receive]\nport = 9000\n[archive]\nignored = 1\n",
    )
    env = {"VOHUB_BROKER__RECEIVE__PORT": "9100", "VOHUB_BROKER__VERBOSE": "yes"}
    config = load_config(
        Broker, "broker", path=path, env=env, overrides={"expiry_days": 2, "archive": None}
    )
    assert config.validation == "lenient"
    assert config.remotes == ("a:8099",)
    assert config.receive.port == 9100
    assert config.verbose is True
    assert config.expiry_days == 2.0
    assert config.archive is None


def test_config_file_named_by_environment(tmp_path: Path) -> None:
    path = write(tmp_path, '[broker]\narchive = "127.0.0.1:50051"\n')
    config = load_config(Broker, "broker", env={"VOHUB_CONFIG": str(path)})
    assert config.archive == "127.0.0.1:50051"


def test_environment_list_is_comma_separated() -> None:
    env = {"VOHUB_BROKER__RECEIVE__WHITELIST": "10.0.0.0/8, 192.168.1.0/24"}
    config = load_config(Broker, "broker", env=env)
    assert config.receive.whitelist == ["10.0.0.0/8", "192.168.1.0/24"]


def test_environment_list_may_be_a_toml_array_when_an_item_holds_a_comma() -> None:
    filters = ["//Param[contains(@name, 'GRB')]", "//Why"]
    env = {"VOHUB_BROKER__FILTERS": """ ["//Param[contains(@name, 'GRB')]", "//Why"]"""}
    assert load_config(Broker, "broker", env=env).filters == filters


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        ("[broker]\nvalidaton = 'strict'\n", {}, "broker.validaton: unknown key"),
        ("[broker.receive]\nprot = 1\n", {}, "broker.receive.prot: unknown key"),
        ("[broker.receive]\nport = 'x'\n", {}, "broker.receive.port: must be int, not 'x'"),
        ("[broker.receive]\nport = 1.5\n", {}, "broker.receive.port: must be int, not 1.5"),
        (
            "[broker.receive]\nwhitelist = ['127.0.0.1/32', '::1/128', 'bogus']\n",
            {},
            "broker.receive.whitelist[2]: not a CIDR network",
        ),
        ("[broker]\nvalidation = 'loose'\n", {}, "broker.validation: must be one of"),
        ("[broker]\nverbose = 'maybe'\n", {}, "broker.verbose: must be true or false"),
        ("[broker]\nreceive = 3\n", {}, "broker.receive: must be a table"),
        ("[broker]\nspool = ['a']\n", {}, "broker.spool: must be a path (a string), not ['a']"),
        ("[broker]\nspool = 5\n", {}, "broker.spool: must be a path (a string), not 5"),
        ("", {"VOHUB_BROKER__RECEIVE__PORT": "eighty"}, "broker.receive.port: must be int"),
        ("", {"VOHUB_BROKER__SPOOLDIR": "/tmp"}, "broker.spooldir: unknown key"),
        ("[brokr]\nremote = 1\n", {}, "brokr: no service reads this table (archive, broker"),
        (
            "",
            {"VOHUB_BROKER_VERBOSE": "yes"},
            "VOHUB_BROKER_VERBOSE: not read; a setting takes two underscores after its section: "
            "VOHUB_BROKER__VERBOSE",
        ),
        (
            "",
            {"VOHUB_GATEWAY_WORKERS": "3"},
            "VOHUB_GATEWAY_WORKERS: not read; a setting takes two underscores",
        ),
        ("", {"VOHUB_BROKR__REMOTE": "x"}, "VOHUB_BROKR__REMOTE: not read; no service has the"),
        (
            "",
            {"VOHUB_BROKER__FILTERS": "['a', b]"},
            "broker.filters: not a TOML array: \"['a', b]\"",
        ),
        ("[broker]\nexpiry_days = nan\n", {}, "broker.expiry_days: must be a finite number"),
        ("[broker]\nexpiry_days = -inf\n", {}, "broker.expiry_days: must be a finite number"),
        ("", {"VOHUB_BROKER__EXPIRY_DAYS": "NaN"}, "must be a finite number, not 'NaN'"),
        ("", {"VOHUB_BROKER__EXPIRY_DAYS": "inf"}, "must be a finite number, not 'inf'"),
        ("", {"VOHUB_BROKER__RECEIVE__PORT": "nan"}, "broker.receive.port: must be int"),
    ],
)
def test_bad_values_name_the_key(
    tmp_path: Path, text: str, env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(Broker, "broker", path=write(tmp_path, text), env=env)
    assert message in str(err.value)


def test_a_number_given_as_a_flag_must_be_finite() -> None:
    """NaN slips through every ``value <= 0`` check, so the loader refuses it for all of them
    (from the file and the environment too: above)."""
    with pytest.raises(ConfigError, match=r"broker\.expiry_days: must be a finite number"):
        load_config(Broker, "broker", env={}, overrides={"expiry_days": float("nan")})


def test_a_string_in_the_file_is_one_list_item(tmp_path: Path) -> None:
    """Commas split a variable's list, not a file's string: TOML has arrays for several items."""
    xpath = "//Param[@value='61' or @value='67'] | //What[contains(., 'GRB')]"
    path = write(tmp_path, f'[broker]\nfilters = "{xpath}"\nremotes = "a:1,b:2"\n')
    config = load_config(Broker, "broker", path=path, env={})
    assert config.filters == [xpath]
    assert config.remotes == ("a:1,b:2",)
    assert load_config(Broker, "broker", env={}, overrides={"filters": "a, b"}).filters == ["a, b"]
    env = {"VOHUB_BROKER__FILTERS": "//a, //b", "VOHUB_BROKER__VALIDATION": "lenient"}
    config = load_config(Broker, "broker", path=path, env=env)
    assert config.filters == ["//a", "//b"]
    assert type(config.filters[0]) is str
    assert type(config.validation) is str


def test_missing_and_broken_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.toml: configuration file not found"):
        load_config(Broker, "broker", path=tmp_path / "nope.toml", env={})
    with pytest.raises(ConfigError, match=r"vohub\.toml: not valid TOML"):
        load_config(Broker, "broker", path=write(tmp_path, "[broker\n"), env={})


def test_unreadable_and_non_utf8_files_are_named(tmp_path: Path) -> None:
    """A folder or bytes that are not UTF-8 are a configuration error, not a traceback."""
    with pytest.raises(ConfigError) as err:
        load_config(Broker, "broker", path=tmp_path, env={})
    assert str(err.value) == f"{tmp_path}: cannot read the configuration file: Is a directory"
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b'[broker]\nlocal_ivo="\xff\xfe"\n')
    with pytest.raises(ConfigError) as err:
        load_config(Broker, "broker", path=binary, env={})
    assert str(err.value) == f"{binary}: not UTF-8 text: byte 0xff at offset 20"


def test_cross_field_rule_from_post_init() -> None:
    @dataclasses.dataclass(frozen=True)
    class Window:
        low: int = 0
        high: int = 10

        def __post_init__(self) -> None:
            if self.low > self.high:
                raise ValueError("low must not exceed high")

    with pytest.raises(ConfigError, match="window: low must not exceed high"):
        load_config(Window, "window", env={}, overrides={"low": 11})

"""Load a service's typed configuration from one TOML file plus environment overrides.

A service describes its settings as nested frozen dataclasses with defaults. Values come,
in increasing priority, from the defaults, the service's section of the TOML file
(``[broker]``, ``[archive]``, …), ``VOHUB_*`` environment variables and explicit overrides
(command-line flags). Every value is checked against its annotation at start-up; an unknown
key, a wrong type or a failed check raises :class:`ConfigError` naming the dotted key, e.g.
``broker.whitelist[2]: not a CIDR network``. A number must be finite: ``nan`` and ``inf``
(which TOML and Python's ``float`` both read) are refused, as a check such as ``value <= 0``
would let NaN through.

Environment variables name the dotted key in upper case with ``__`` between levels:
``VOHUB_BROKER__RECEIVE=127.0.0.1:9098`` sets ``broker.receive``. A list value in a variable is
comma-separated, or a TOML array when an item holds a comma (an XPath filter may):
``["//Param[contains(@name, 'GRB')]", "//Why"]``. In the file a list setting takes a TOML
array; a plain string there is one item, never split on its commas.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from vohub.common.errors import ConfigError

T = TypeVar("T")

#: Environment variable naming the configuration file when no path is given.
CONFIG_ENV = "VOHUB_CONFIG"
#: The file's tables: one per service of a hub (any other is a typo, refused).
SECTIONS = ("archive", "broker", "gateway")

#: Metadata key of a dataclass field holding a check: ``value -> None`` raising ValueError.
CHECK = "check"
#: Metadata key telling the loader to run the check on each item of a list setting.
EACH = "each"


def checked(
    default: Any, check: Callable[[Any], None], *, each: bool = False, **kwargs: Any
) -> Any:
    """A dataclass field whose loaded value is passed through ``check``.

    ``check`` raises ValueError with a message; the loader prefixes it with the key. With
    ``each=True`` a list setting is checked item by item, and the key names the index
    (``broker.whitelist[2]``).

    >>> def positive(v: int) -> None:
    ...     if v <= 0:
    ...         raise ValueError("must be positive")
    >>> @dataclasses.dataclass(frozen=True)
    ... class S:
    ...     workers: int = checked(2, positive)
    >>> load_config(S, "svc", overrides={"workers": 0}, env={})
    Traceback (most recent call last):
    ...
    vohub.common.errors.ConfigError: svc.workers: must be positive
    """
    metadata = {CHECK: check, EACH: each}
    if isinstance(default, list | dict | set):
        return dataclasses.field(
            default_factory=lambda: type(default)(default), metadata=metadata, **kwargs
        )
    return dataclasses.field(default=default, metadata=metadata, **kwargs)


def read_toml(path: Path | None, env: Mapping[str, str]) -> dict[str, Any]:
    """The parsed TOML file at ``path`` (or ``$VOHUB_CONFIG``), or ``{}`` when there is none.

    A table no service reads (:data:`SECTIONS`) raises :class:`ConfigError`: a misspelt
    ``[brokr]`` would otherwise be ignored without a word. So does a file that cannot be read
    or is not UTF-8 TOML, naming the file.

    >>> read_toml(None, env={})
    {}
    >>> read_toml(Path("/"), env={})
    Traceback (most recent call last):
    ...
    vohub.common.errors.ConfigError: /: cannot read the configuration file: Is a directory
    """
    if path is None:
        named = env.get(CONFIG_ENV)
        if not named:
            return {}
        path = Path(named)
    try:
        with path.open("rb") as handle:
            tables = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(str(path), "configuration file not found") from None
    except OSError as exc:  # a folder, no permission, ...
        raise ConfigError(
            str(path), f"cannot read the configuration file: {exc.strerror}"
        ) from None
    except UnicodeDecodeError as exc:
        byte = exc.object[exc.start]
        raise ConfigError(
            str(path), f"not UTF-8 text: byte {byte:#x} at offset {exc.start}"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), f"not valid TOML: {exc}") from None
    for name in tables:
        if name not in SECTIONS:
            raise ConfigError(name, f"no service reads this table ({', '.join(SECTIONS)})")
    return tables


def load_config(
    schema: type[T],
    section: str,
    *,
    path: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> T:
    """Build ``schema`` from defaults, ``[section]`` of the TOML file, environment and overrides.

    ``overrides`` maps dotted keys (relative to the section) to values; None values are
    ignored, so argparse results can be passed straight in.

    >>> @dataclasses.dataclass(frozen=True)
    ... class Archive:
    ...     db: str = "sqlite:///hub.db"
    ...     batch: int = 500
    >>> load_config(Archive, "archive", env={"VOHUB_ARCHIVE__BATCH": "50"})
    Archive(db='sqlite:///hub.db', batch=50)
    >>> load_config(Archive, "archive", env={}, overrides={"bacth": 1})
    Traceback (most recent call last):
    ...
    vohub.common.errors.ConfigError: archive.bacth: unknown key
    """
    env = os.environ if env is None else env
    raw = read_toml(path, env).get(section, {})
    if not isinstance(raw, dict):
        raise ConfigError(section, "must be a table")
    merged = _deep_copy(raw)
    for key, value in _env_values(section, env).items():
        _set_dotted(merged, key, value)
    for key, value in (overrides or {}).items():
        if value is not None:
            _set_dotted(merged, key, value)
    return _build(schema, merged, section)


class _EnvText(str):
    """A value read from an environment variable: only these are split into list items."""

    __slots__ = ()


def _env_values(section: str, env: Mapping[str, str]) -> dict[str, str]:
    for name in env:
        check_env_name(name)
    return {key: _EnvText(env[name]) for key, name in env_keys(section, env).items()}


def env_keys(section: str, env: Mapping[str, str]) -> dict[str, str]:
    """The dotted keys of ``section`` that variables of ``env`` set, each with its variable.

    >>> env_keys("broker", {"VOHUB_BROKER__RECEIVE": "127.0.0.1:9098", "HOME": "/root"})
    {'receive': 'VOHUB_BROKER__RECEIVE'}
    """
    prefix = f"VOHUB_{section.upper()}__"
    return {
        name[len(prefix) :].lower().replace("__", "."): name
        for name in env
        if name.startswith(prefix)
    }


def check_env_name(name: str) -> None:
    """Raise :class:`ConfigError` if ``name`` looks like a setting but no service would read it:
    a section no service has, or one underscore where the section needs two.

    As with a misspelt TOML table, such a variable would otherwise be ignored without a word.

    >>> check_env_name("VOHUB_GATEWAY__WORKERS"), check_env_name("VOHUB_CONFIG")
    (None, None)
    >>> check_env_name("VOHUB_GATEWAY_WORKERS")
    Traceback (most recent call last):
    ...
    vohub.common.errors.ConfigError: VOHUB_GATEWAY_WORKERS: not read; a setting takes two \
underscores after its section: VOHUB_GATEWAY__WORKERS
    """
    if not name.startswith("VOHUB_"):
        return
    head, sep, _ = name[len("VOHUB_") :].partition("__")
    if sep:
        if head.lower() not in SECTIONS:
            raise ConfigError(name, f"not read; no service has the section {head.lower()!r}")
        return
    for section in SECTIONS:
        single = f"VOHUB_{section.upper()}_"
        if name.startswith(single):
            rest = name[len(single) :]
            raise ConfigError(
                name,
                f"not read; a setting takes two underscores after its section: {single}_{rest}",
            )


def _deep_copy(table: dict[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy(v) if isinstance(v, dict) else v for k, v in table.items()}


def _set_dotted(table: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for part in parents:
        table = table.setdefault(part, {})
    table[leaf] = value


def _build(schema: type[T], table: dict[str, Any], where: str) -> T:
    fields = {f.name: f for f in dataclasses.fields(schema)}  # type: ignore[arg-type]
    for key in table:
        if key not in fields:
            raise ConfigError(f"{where}.{key}", "unknown key")
    hints = typing.get_type_hints(schema)
    values = {}
    for name, value in table.items():
        key = f"{where}.{name}"
        values[name] = _coerce(hints[name], value, key)
    try:
        built = schema(**values)
    except ValueError as exc:  # cross-field rules raised from __post_init__
        raise ConfigError(where, str(exc)) from None
    for name, field in fields.items():
        if CHECK in field.metadata:
            _run_check(field.metadata, getattr(built, name), f"{where}.{name}")
    return built


def _run_check(metadata: Mapping[str, Any], value: Any, key: str) -> None:
    items = enumerate(value) if metadata[EACH] else [(None, value)]
    for index, item in items:
        try:
            metadata[CHECK](item)
        except ValueError as exc:
            where = key if index is None else f"{key}[{index}]"
            raise ConfigError(where, str(exc)) from None


def _coerce(hint: Any, value: Any, key: str) -> Any:
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise ConfigError(key, "must be a table")
        return _build(hint, value, key)  # type: ignore[arg-type]
    if origin in (typing.Union, types.UnionType):
        return _coerce_optional(hint, value, key)
    if origin in (list, tuple):
        return _coerce_sequence(hint, value, key)
    if isinstance(value, _EnvText):
        value = str(value)  # a plain str in the built configuration
    if origin is typing.Literal:
        if value not in typing.get_args(hint):
            allowed = ", ".join(repr(a) for a in typing.get_args(hint))
            raise ConfigError(key, f"must be one of {allowed}, not {value!r}")
        return value
    return _coerce_scalar(hint, value, key)


def _coerce_optional(hint: Any, value: Any, key: str) -> Any:
    options = [a for a in typing.get_args(hint) if a is not type(None)]
    if value is None or value == "":
        return None
    return _coerce(options[0], value, key)


def _coerce_sequence(hint: Any, value: Any, key: str) -> Any:
    if isinstance(value, _EnvText):
        value = _env_list(str(value), key)
    elif isinstance(value, str):  # from the file or a flag: TOML has arrays for several items
        value = [value]
    if not isinstance(value, list | tuple):
        raise ConfigError(key, f"must be a list, not {value!r}")
    item = typing.get_args(hint)[0]
    items = [_coerce(item, v, f"{key}[{i}]") for i, v in enumerate(value)]
    return tuple(items) if typing.get_origin(hint) is tuple else items


def _env_list(text: str, key: str) -> list[Any]:
    if text.lstrip().startswith("["):
        try:
            items: list[Any] = tomllib.loads(f"items = {text}")["items"]
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(key, f"not a TOML array: {text!r} ({exc})") from None
        return items
    return [v.strip() for v in text.split(",") if v.strip()]


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _coerce_scalar(hint: Any, value: Any, key: str) -> Any:
    if hint is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE | _FALSE:
            return text in _TRUE
        raise ConfigError(key, f"must be true or false, not {value!r}")
    if hint in (int, float):
        if isinstance(value, bool) or (hint is int and isinstance(value, float)):
            raise ConfigError(key, f"must be {hint.__name__}, not {value!r}")
        try:
            number = hint(value)
        except (TypeError, ValueError):
            raise ConfigError(key, f"must be {hint.__name__}, not {value!r}") from None
        if not math.isfinite(number):  # nan passes every `<=` check, inf every `>=`
            raise ConfigError(key, f"must be a finite number, not {value!r}")
        return number
    if hint is Path:
        if not isinstance(value, str | Path):
            raise ConfigError(key, f"must be a path (a string), not {value!r}")
        return Path(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(key, f"must be a string, not {value!r}")
        return value
    raise ConfigError(key, f"unsupported setting type {hint!r}")

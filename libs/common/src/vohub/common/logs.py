"""Structured logging: one line per event, as ``key=value`` pairs or as JSON.

Call :func:`configure` once at start-up, then log events through :func:`get_logger`::

    log = get_logger("vohub.broker")
    log.info("packet.accepted", ivorn=ivorn, peer="127.0.0.1:50122")

which prints ``ts=2026-11-25T08:00:00.123Z level=info service=broker logger=vohub.broker
event=packet.accepted ivorn=ivo://… peer=127.0.0.1:50122``.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

Format = Literal["kv", "json"]
#: The levels a ``log_level`` setting takes (in any case).
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_FIELDS = "vohub_fields"


class EventLogger:
    """A thin wrapper over :class:`logging.Logger` taking an event name and fields.

    >>> import io
    >>> stream = io.StringIO()
    >>> new_year = lambda: datetime(2026, 1, 1, tzinfo=UTC)
    >>> configure("demo", level="INFO", stream=stream, clock=new_year)
    >>> get_logger("vohub.demo").info("packet.accepted", ivorn="ivo://a/b#1", n=2)
    >>> for pair in stream.getvalue().split():
    ...     print(pair)
    ts=2026-01-01T00:00:00.000Z
    level=info
    service=demo
    logger=vohub.demo
    event=packet.accepted
    ivorn=ivo://a/b#1
    n=2
    """

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger

    def _log(self, level: int, event: str, fields: dict[str, Any]) -> None:
        if self.logger.isEnabledFor(level):
            self.logger.log(level, event, extra={_FIELDS: fields}, stacklevel=3)

    def debug(self, event: str, **fields: Any) -> None:
        """Log ``event`` at DEBUG level with ``fields``.

        >>> import io
        >>> out = io.StringIO()
        >>> configure("demo", level="DEBUG", stream=out)
        >>> get_logger("vohub.demo").debug("cache.miss", key="k1")
        >>> out.getvalue().split()[1:]
        ['level=debug', 'service=demo', 'logger=vohub.demo', 'event=cache.miss', 'key=k1']
        """
        self._log(logging.DEBUG, event, fields)

    def info(self, event: str, **fields: Any) -> None:
        """Log ``event`` at INFO level with ``fields``.

        >>> import io
        >>> out = io.StringIO()
        >>> configure("demo", level="DEBUG", stream=out)
        >>> get_logger("vohub.demo").info("packet.accepted", ivorn="ivo://a/b#1")
        >>> out.getvalue().split()[1:]
        ['level=info', 'service=demo', 'logger=vohub.demo', 'event=packet.accepted', 'ivorn=ivo://a/b#1']
        """
        self._log(logging.INFO, event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        """Log ``event`` at WARNING level with ``fields``.

        >>> import io
        >>> out = io.StringIO()
        >>> configure("demo", level="DEBUG", stream=out)
        >>> get_logger("vohub.demo").warning("peer.slow", lag_s=2.5)
        >>> out.getvalue().split()[1:]
        ['level=warning', 'service=demo', 'logger=vohub.demo', 'event=peer.slow', 'lag_s=2.5']
        """
        self._log(logging.WARNING, event, fields)

    def error(self, event: str, **fields: Any) -> None:
        """Log ``event`` at ERROR level with ``fields``.

        >>> import io
        >>> out = io.StringIO()
        >>> configure("demo", level="DEBUG", stream=out)
        >>> get_logger("vohub.demo").error("store.down", retry_s=5)
        >>> out.getvalue().split()[1:]
        ['level=error', 'service=demo', 'logger=vohub.demo', 'event=store.down', 'retry_s=5']
        """
        self._log(logging.ERROR, event, fields)

    def exception(self, event: str, **fields: Any) -> None:
        """Log ``event`` at ERROR level with ``fields`` and the current exception's text.

        >>> import io
        >>> out = io.StringIO()
        >>> configure("demo", fmt="json", stream=out)
        >>> try:
        ...     1 / 0
        ... except ZeroDivisionError:
        ...     get_logger("vohub.demo").exception("job.failed", job=7)
        >>> record = json.loads(out.getvalue())
        >>> record["level"], record["job"], record["error"]
        ('error', 7, 'ZeroDivisionError: division by zero')
        """
        exc = sys.exc_info()[1]
        if exc is not None:
            fields = {**fields, "error": f"{type(exc).__name__}: {exc}"}
        self._log(logging.ERROR, event, fields)


def get_logger(name: str) -> EventLogger:
    """An :class:`EventLogger` for ``name`` (conventionally the module's ``__name__``).

    >>> get_logger("vohub.archive").logger.name
    'vohub.archive'
    """
    return EventLogger(logging.getLogger(name))


class EventFormatter(logging.Formatter):
    """Formats records as one ``key=value`` line or one JSON object."""

    def __init__(self, service: str, fmt: Format, clock: Any = None) -> None:
        super().__init__()
        self.service = service
        self.fmt = fmt
        self.clock = clock or (lambda: datetime.now(UTC))

    def format(self, record: logging.LogRecord) -> str:
        """One line for ``record``: ``key=value`` pairs (quoted where needed) or JSON.

        >>> record = logging.makeLogRecord({"name": "vohub.x", "levelname": "INFO",
        ...                                 "msg": "started", _FIELDS: {"n": "a b"}})
        >>> new_year = lambda: datetime(2026, 1, 1, tzinfo=UTC)
        >>> print(EventFormatter("s", "kv", clock=new_year).format(record))
        ts=2026-01-01T00:00:00.000Z level=info service=s logger=vohub.x event=started n="a b"
        >>> json.loads(EventFormatter("s", "json", clock=new_year).format(record))["n"]
        'a b'
        """
        stamp = self.clock().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        fields: dict[str, Any] = {
            "ts": stamp,
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "event": record.getMessage(),
        }
        fields.update(getattr(record, _FIELDS, {}))
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            fields.setdefault("error", f"{type(exc).__name__}: {exc}")
        if self.fmt == "json":
            return json.dumps(fields, default=str, ensure_ascii=False)
        return " ".join(f"{k}={_kv(v)}" for k, v in fields.items())


def _kv(value: Any) -> str:
    """``value`` as it is, or JSON-quoted if empty or holding a space, quote, ``=`` or any
    character that is not printable (a line break, a carriage return, an escape)."""
    text = "" if value is None else str(value)
    if text.isprintable() and not any(c in text for c in ' "='):
        return text if text else '""'
    return json.dumps(text, ensure_ascii=False)


def check_level(text: str) -> None:
    """The check of a ``log_level`` setting: ValueError unless ``text`` names a level.

    >>> check_level("info")
    >>> check_level("LOUD")
    Traceback (most recent call last):
    ...
    ValueError: must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, not 'LOUD'
    """
    if text.upper() not in LEVELS:
        raise ValueError(f"must be one of {', '.join(LEVELS)}, not {text!r}")


def configure(
    service: str,
    *,
    level: str = "INFO",
    fmt: Format = "kv",
    stream: TextIO | None = None,
    clock: Any = None,
) -> None:
    """Send every log record, from vohub and libraries alike, to ``stream`` as structured lines.

    >>> configure("broker", level="WARNING")
    >>> logging.getLogger().level == logging.WARNING
    True
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(EventFormatter(service, fmt, clock))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())

"""The broker's log lines at a fraction of the cost: the same text as :mod:`vohub.common.logs`.

The broker writes one structured line per packet, so the formatter runs thousands of times a
second. :class:`FastEventFormatter` renders the ``key=value`` lines that
:class:`~vohub.common.logs.EventFormatter` renders, character for character, with a compiled
pattern instead of a generator per field and a timestamp prefix formatted once per second;
JSON lines and records with a traceback go to the original. :func:`install` puts it on the
handlers that :func:`vohub.common.logs.configure` set up, turns off the look-ups no vohub
format prints (caller, thread, process: the logging HOWTO's "Optimization"), and has the
lines logged during one turn of the event loop written together at its end
(:class:`LoopFlushedStream`) rather than one write each.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import re
import threading
import time
from datetime import UTC, datetime
from typing import Any, TextIO, cast

from vohub.common.logs import EventFormatter, EventLogger

#: Text that ``key=value`` lines print bare if it is also printable; the rest is JSON-quoted.
_BARE = re.compile(r'[^ "=]+\Z')
#: The keys every line starts with (a field of the same name takes their place).
_BASE = frozenset({"ts", "level", "service", "logger", "event"})


def _kv(value: Any) -> str:
    text = "" if value is None else value if type(value) is str else str(value)
    if _BARE.match(text) and text.isprintable():
        return text
    return json.dumps(text, ensure_ascii=False)


class FastEventFormatter(EventFormatter):
    """:class:`EventFormatter`'s ``kv`` lines, fast; the record's own time is the timestamp.

    >>> record = logging.LogRecord("vohub.broker", logging.INFO, "", 0, "packet.accepted",
    ...                            None, None)
    >>> record.created, record.vohub_fields = 1_767_225_600.25, {"ivorn": "ivo://a/b#1"}
    >>> FastEventFormatter("broker", "kv").format(record)
    'ts=2026-01-01T00:00:00.250Z level=info service=broker logger=vohub.broker \
event=packet.accepted ivorn=ivo://a/b#1'
    """

    _created = 0.0  # the record being formatted by the reference, for its timestamp

    def __init__(self, service: str, fmt: Any) -> None:
        super().__init__(service, fmt, clock=lambda: datetime.fromtimestamp(self._created, UTC))
        self._second = -1
        self._prefix = ""
        self._service = _kv(service)

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] | None = getattr(record, "vohub_fields", None)
        if self.fmt != "kv" or record.exc_info or (fields and not _BASE.isdisjoint(fields)):
            self._created = record.created
            return super().format(record)
        return self.line(record.created, record.levelname, record.name, record.getMessage(), fields)

    def line(
        self, created: float, level: str, name: str, event: str, fields: dict[str, Any] | None
    ) -> str:
        """The ``kv`` line of a record made at ``created`` (its fields hold no base key)."""
        second = int(created)
        micros = round((created - second) * 1e6)  # rounded as datetime rounds it
        if micros >= 1_000_000:
            second, micros = second + 1, micros - 1_000_000
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        millis = micros // 1000
        parts = [
            f"ts={self._prefix}.{millis:03d}Z level={level.lower()} "
            f"service={self._service} logger={_kv(name)} event={_kv(event)}"
        ]
        if fields:
            parts += [f"{key}={_kv(value)}" for key, value in fields.items()]
        return " ".join(parts)


class LoopFlushedStream:
    """A text stream whose flushes, on an event loop's thread, wait for the end of its turn.

    Off the loop (other threads, start-up, exit) a flush is a flush. A crash can lose the
    lines of the turn it interrupts, as it can lose anything not yet written.
    """

    def __init__(self, stream: TextIO) -> None:
        if isinstance(stream, io.TextIOWrapper) and stream.line_buffering:
            stream.reconfigure(line_buffering=False)  # else every line is a write anyway
        self.stream = stream
        self._due = False
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            return self.stream.write(text)

    def flush(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._flush()
            return
        if not self._due:
            self._due = True
            loop.call_soon(self._flush)

    def _flush(self) -> None:
        with self._lock:
            self._due = False
            self.stream.flush()


class HotLog:
    """One INFO line per packet, written straight to the handlers when that gives the same line.

    When every handler the logger's records would reach is a plain ``StreamHandler`` with a
    :class:`FastEventFormatter` writing ``kv`` lines, and no filter is in the way, the line
    is formatted and written under the handler's lock as ``Handler.handle`` would, without a
    ``LogRecord`` and the handler chain (a third of the cost). Anything else (JSON, pytest's
    capture handler, a filter, a field named like a base key) goes through :mod:`logging`.
    """

    def __init__(self, log: EventLogger) -> None:
        self.log = log
        self.logger = log.logger

    def info(self, event: str, **fields: Any) -> None:
        """Log ``event`` with ``fields`` at INFO."""
        logger = self.logger
        if not logger.isEnabledFor(logging.INFO):
            return
        handlers = _fast_handlers(logger) if _BASE.isdisjoint(fields) else None
        if not handlers:
            self.log.info(event, **fields)
            return
        created = time.time()
        for handler in handlers:
            if handler.level <= logging.INFO:
                formatter = cast(FastEventFormatter, handler.formatter)
                text = formatter.line(created, "INFO", logger.name, event, fields)
                with handler.lock or contextlib.nullcontext():
                    handler.stream.write(text + handler.terminator)
                    handler.stream.flush()


def _fast_handlers(logger: logging.Logger) -> list[logging.StreamHandler[Any]] | None:
    """The handlers a record of ``logger`` reaches, if all write fast ``kv`` lines; else None."""
    found: list[logging.StreamHandler[Any]] = []
    current: logging.Logger | None = logger
    while current is not None:
        if current.filters:
            return None
        for handler in current.handlers:
            formatter = handler.formatter
            if (
                type(handler) is not logging.StreamHandler
                or handler.filters
                or not isinstance(formatter, FastEventFormatter)
                or formatter.fmt != "kv"
            ):
                return None
            found.append(handler)
        current = current.parent if current.propagate else None
    return found


def install(service: str) -> None:
    """Swap the fast formatter onto every root handler that has an :class:`EventFormatter`."""
    # What no vohub format prints, a record need not look up (the HOWTO's "Optimization"):
    # the caller's file and line, the thread, the process (a getpid call per record).
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    for handler in logging.getLogger().handlers:
        old = handler.formatter
        if isinstance(old, EventFormatter) and not isinstance(old, FastEventFormatter):
            handler.setFormatter(FastEventFormatter(service, old.fmt))
            if isinstance(handler, logging.StreamHandler) and not isinstance(
                handler.stream, LoopFlushedStream
            ):
                handler.setStream(LoopFlushedStream(handler.stream))

"""The broker's log lines at a fraction of the cost: the same text as :mod:`vohub.common.logs`.

The broker writes one structured line per packet, so the formatter runs thousands of times a
second. :class:`FastEventFormatter` renders the ``key=value`` lines that
:class:`~vohub.common.logs.EventFormatter` renders, character for character, with a compiled
pattern instead of a generator per field and a timestamp prefix formatted once per second;
JSON lines and records with a traceback go to the original. :func:`install` puts it on the
handlers that :func:`vohub.common.logs.configure` set up, and turns off the look-ups no vohub
format prints (caller, thread, process: the logging HOWTO's "Optimization").
"""

from __future__ import annotations

import json
import logging
import re
import time
from datetime import UTC, datetime
from typing import Any

from vohub.common.logs import EventFormatter

#: Text that ``key=value`` lines print bare; anything else is JSON-quoted.
_BARE = re.compile(r'[^ "=\n\t]+\Z')
#: The keys every line starts with (a field of the same name takes their place).
_BASE = frozenset({"ts", "level", "service", "logger", "event"})


def _kv(value: Any) -> str:
    text = "" if value is None else value if type(value) is str else str(value)
    if _BARE.match(text):
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
        second = int(record.created)
        micros = round((record.created - second) * 1e6)  # rounded as datetime rounds it
        if micros >= 1_000_000:
            second, micros = second + 1, micros - 1_000_000
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        millis = micros // 1000
        parts = [
            f"ts={self._prefix}.{millis:03d}Z level={record.levelname.lower()} "
            f"service={self._service} logger={_kv(record.name)} event={_kv(record.getMessage())}"
        ]
        if fields:
            parts += [f"{key}={_kv(value)}" for key, value in fields.items()]
        return " ".join(parts)


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

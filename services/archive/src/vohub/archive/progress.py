"""A one-line progress bar on a terminal (plain periodic lines elsewhere), no dependencies."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO


class Progress:
    """Shows ``done/total`` (as a bar) and a rate, redrawn at most every ``every`` seconds.

    >>> import io
    >>> out = io.StringIO()
    >>> bar = Progress(100, stream=out, clock=iter([0.0, 2.0, 4.0]).__next__)
    >>> bar.update(50, packets=10)
    >>> out.getvalue().strip()
    '[##############--------------]  50%  10 packets  5/s'
    >>> bar.update(50, packets=10, force=True)  # nothing new: not drawn again
    >>> out.getvalue().count("\\n")
    1
    """

    def __init__(
        self,
        total: int,
        *,
        stream: TextIO | None = None,
        every: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = max(total, 1)
        self.stream = stream or sys.stderr
        self.every = every
        self.clock = clock
        self.started = clock()
        self.shown = -every
        self.last = (-1, -1)  # (done, packets) last drawn: a forced redraw of it is skipped
        self.tty = self.stream.isatty()

    def update(self, done: int, *, packets: int, force: bool = False) -> None:
        """Redraw with ``done`` of ``total`` finished and ``packets`` handled so far."""
        now = self.clock()
        interval = self.every if self.tty else max(self.every, 2.0)
        if (not force and now - self.shown < interval) or (done, packets) == self.last:
            return
        self.shown = now
        self.last = (done, packets)
        share = min(done / self.total, 1.0)
        bar = "#" * int(share * 28) + "-" * (28 - int(share * 28))
        rate = packets / max(now - self.started, 1e-9)
        line = f"[{bar}] {share:4.0%}  {packets} packets  {rate:.0f}/s"
        self.stream.write(("\r" + line) if self.tty else (line + "\n"))
        self.stream.flush()

    def close(self) -> None:
        """End the bar's line."""
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()

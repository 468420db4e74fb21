"""Reconnection delays for VTP subscribers: exponential backoff with jitter, reset if stable."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

# Comet's subscriber uses Twisted's ReconnectingClientFactory: 1 s first, then x e per attempt
# with Gaussian jitter (sigma ~ 12 %), capped at one hour; the delay resets once a connection
# has lasted 5 s (observed waits 1, 3, 9 s). These defaults reproduce that schedule.


@dataclass
class Backoff:
    """Delay schedule for reconnecting to a broker; time enters as arguments.

    Call :meth:`connected` when a connection opens and :meth:`next_delay` after it fails or
    ends; a connection that lasted at least ``reset_after`` seconds restarts the schedule.

    Parameters
    ----------
    initial
        First delay, seconds.
    factor
        Growth per attempt.
    maximum
        Cap, seconds.
    jitter
        Relative standard deviation of the Gaussian jitter (0 disables it).
    reset_after
        A connection at least this long resets the delay to ``initial``.
    rng
        Random source, injectable for tests.

    Examples
    --------
    >>> backoff = Backoff(jitter=0.0)
    >>> [round(backoff.next_delay(now=0.0), 2) for _ in range(3)]
    [1.0, 2.72, 7.39]
    >>> backoff.connected(now=100.0)
    >>> backoff.next_delay(now=106.0)
    1.0
    """

    initial: float = 1.0
    factor: float = math.e
    maximum: float = 3600.0
    jitter: float = 0.12
    reset_after: float = 5.0
    rng: random.Random = field(default_factory=random.Random, repr=False)
    _attempt: int = field(default=0, init=False, repr=False)
    _connected_at: float | None = field(default=None, init=False, repr=False)

    def connected(self, now: float) -> None:
        """Record that a connection opened at ``now``.

        Examples
        --------
        >>> backoff = Backoff(jitter=0.0)
        >>> backoff.connected(now=0.0)
        >>> backoff.next_delay(now=1.0)   # lasted 1 s: not long enough to reset, first delay
        1.0
        """
        self._connected_at = now

    def next_delay(self, now: float) -> float:
        """Seconds to wait before the next attempt, after a failure or a lost link at ``now``.

        Examples
        --------
        >>> backoff = Backoff(jitter=0.0, maximum=5.0)
        >>> [round(backoff.next_delay(now=0.0), 2) for _ in range(4)]
        [1.0, 2.72, 5.0, 5.0]
        """
        if self._connected_at is not None and now - self._connected_at >= self.reset_after:
            self._attempt = 0
        self._connected_at = None
        delay = min(self.initial * self.factor**self._attempt, self.maximum)
        if delay < self.maximum:
            self._attempt += 1
        if self.jitter:
            delay = self.rng.normalvariate(delay, delay * self.jitter)
        return max(0.0, min(delay, self.maximum))

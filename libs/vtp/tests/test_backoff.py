"""Reconnection backoff: Comet's schedule (1 s, x e, 1 h cap, jitter), reset after a stable link."""

from __future__ import annotations

import math
import random

from vohub.vtp.backoff import Backoff


def test_schedule_without_jitter() -> None:
    backoff = Backoff(jitter=0.0)
    delays = [backoff.next_delay(0.0) for _ in range(12)]
    assert delays[:3] == [1.0, math.e, math.e**2]
    assert delays[-1] == 3600.0
    assert delays == sorted(delays)


def test_jitter_stays_near_the_schedule_and_is_seedable() -> None:
    a = Backoff(rng=random.Random(7))
    b = Backoff(rng=random.Random(7))
    da = [a.next_delay(0.0) for _ in range(5)]
    assert da == [b.next_delay(0.0) for _ in range(5)]
    for attempt, delay in enumerate(da):
        assert 0.0 <= delay <= 3600.0
        assert abs(delay - math.e**attempt) < 0.6 * math.e**attempt


def test_short_connection_does_not_reset_but_a_stable_one_does() -> None:
    backoff = Backoff(jitter=0.0, reset_after=5.0)
    backoff.next_delay(0.0)
    backoff.next_delay(1.0)
    backoff.connected(10.0)
    assert backoff.next_delay(14.0) == math.e**2
    backoff.connected(20.0)
    assert backoff.next_delay(25.0) == 1.0


def test_many_failures_never_overflow() -> None:
    backoff = Backoff(jitter=0.0)
    for _ in range(10_000):
        delay = backoff.next_delay(0.0)
    assert delay == 3600.0

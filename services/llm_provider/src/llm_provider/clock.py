"""Injected time: every wait and every deadline in this service goes through a Clock.

Pure logic (rate limiter, retry loop, circuit breaker) never calls `time` or `asyncio.sleep`
directly, so tests drive it with a FakeClock and never sleep for real.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    """Monotonic time for intervals, wall time for HTTP dates and reset timestamps."""

    def monotonic(self) -> float: ...

    def wall(self) -> float:
        """Seconds since the Unix epoch."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class FakeClock:
    """A clock that moves only when told to or when someone sleeps on it.

    `sleep` advances time by the requested amount at once (and yields to the event loop), so
    backoff and rate-limit waits finish instantly while the arithmetic stays observable.
    """

    def __init__(self, *, start: float = 1_000.0, wall_start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._wall_offset = wall_start - start
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self._now

    def wall(self) -> float:
        return self._now + self._wall_offset

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock does not run backwards")
        self._now += seconds

    async def sleep(self, seconds: float) -> None:
        waited = max(0.0, seconds)
        self.sleeps.append(waited)
        self._now += waited
        await asyncio.sleep(0)

    @property
    def total_slept(self) -> float:
        return sum(self.sleeps)

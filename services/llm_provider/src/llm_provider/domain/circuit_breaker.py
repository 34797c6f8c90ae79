"""Per-provider circuit breaker: stop calling a provider that keeps failing, probe it later.

closed --N consecutive failures--> open --cool-down elapsed--> half-open (one probe at a time)
half-open --probe succeeds--> closed; half-open --probe fails--> open (cool-down restarts).
Only failures of the provider itself count (5xx, 529, timeouts, connection, garbage bodies);
rate limits and our own bad requests do not, they say nothing about the provider's health.
"""

from __future__ import annotations

from enum import StrEnum

from llm_provider.clock import Clock


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(self, *, clock: Clock, failure_threshold: int = 5, cool_down_s: float = 30.0):
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self._clock = clock
        self._threshold = failure_threshold
        self._cool_down_s = cool_down_s
        self._state = BreakerState.CLOSED
        self._consecutive_failures = 0
        self._opened_at = 0.0
        self._probe_in_flight = False

    @property
    def state(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self.retry_in() == 0.0:
            return BreakerState.HALF_OPEN
        return self._state

    @property
    def consecutive_failures(self) -> int:
        return self._consecutive_failures

    def retry_in(self) -> float:
        """Seconds until an open breaker lets a probe through (0 when calls are allowed)."""
        if self._state is not BreakerState.OPEN:
            return 0.0
        return max(0.0, self._opened_at + self._cool_down_s - self._clock.monotonic())

    def allow(self) -> bool:
        """May a call go out now? In half-open state only one probe is let through."""
        if self._state is BreakerState.CLOSED:
            return True
        if self._state is BreakerState.OPEN:
            if self.retry_in() > 0.0:
                return False
            self._state = BreakerState.HALF_OPEN
            self._probe_in_flight = False
        if self._probe_in_flight:
            return False
        self._probe_in_flight = True
        return True

    def record_success(self) -> None:
        self._state = BreakerState.CLOSED
        self._consecutive_failures = 0
        self._probe_in_flight = False

    def record_failure(self) -> None:
        self._consecutive_failures += 1
        if self._state is BreakerState.HALF_OPEN or self._consecutive_failures >= self._threshold:
            self._state = BreakerState.OPEN
            self._opened_at = self._clock.monotonic()
        self._probe_in_flight = False

    def release_probe(self) -> None:
        """The probe ended without a verdict (cancelled, or a bug): let another one through."""
        self._probe_in_flight = False


class CircuitBreakers:
    """One breaker per provider name, created on first use with the same settings."""

    def __init__(self, *, clock: Clock, failure_threshold: int = 5, cool_down_s: float = 30.0):
        self._clock = clock
        self._threshold = failure_threshold
        self._cool_down_s = cool_down_s
        self._breakers: dict[str, CircuitBreaker] = {}

    def for_provider(self, provider: str) -> CircuitBreaker:
        breaker = self._breakers.get(provider)
        if breaker is None:
            breaker = CircuitBreaker(
                clock=self._clock,
                failure_threshold=self._threshold,
                cool_down_s=self._cool_down_s,
            )
            self._breakers[provider] = breaker
        return breaker

    def states(self) -> dict[str, BreakerState]:
        return {name: breaker.state for name, breaker in self._breakers.items()}

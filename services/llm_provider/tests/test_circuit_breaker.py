from __future__ import annotations

import pytest
from llm_provider.clock import FakeClock
from llm_provider.domain.circuit_breaker import BreakerState, CircuitBreaker, CircuitBreakers


def _state(breaker: CircuitBreaker) -> BreakerState:
    """Read through a call so mypy does not keep an earlier narrowing of the property."""
    return breaker.state


def _breaker(clock: FakeClock) -> CircuitBreaker:
    return CircuitBreaker(clock=clock, failure_threshold=3, cool_down_s=30.0)


def test_opens_after_n_consecutive_failures() -> None:
    breaker = _breaker(FakeClock())
    for _ in range(2):
        assert breaker.allow()
        breaker.record_failure()
    assert _state(breaker) is BreakerState.CLOSED
    breaker.record_failure()
    assert _state(breaker) is BreakerState.OPEN
    assert not breaker.allow()


def test_a_success_resets_the_failure_count() -> None:
    breaker = _breaker(FakeClock())
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    breaker.record_failure()
    assert _state(breaker) is BreakerState.CLOSED


def test_half_open_after_the_cool_down_lets_one_probe_through() -> None:
    clock = FakeClock()
    breaker = _breaker(clock)
    for _ in range(3):
        breaker.record_failure()
    clock.advance(29.9)
    assert not breaker.allow()
    assert breaker.retry_in() == pytest.approx(0.1)
    clock.advance(0.1)
    assert _state(breaker) is BreakerState.HALF_OPEN
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # nobody else while it is out


def test_a_successful_probe_closes_the_breaker() -> None:
    clock = FakeClock()
    breaker = _breaker(clock)
    for _ in range(3):
        breaker.record_failure()
    clock.advance(30)
    assert breaker.allow()
    breaker.record_success()
    assert _state(breaker) is BreakerState.CLOSED
    assert breaker.allow()
    assert breaker.allow()


def test_a_failed_probe_opens_it_again_for_a_full_cool_down() -> None:
    clock = FakeClock()
    breaker = _breaker(clock)
    for _ in range(3):
        breaker.record_failure()
    clock.advance(30)
    assert breaker.allow()
    breaker.record_failure()
    assert _state(breaker) is BreakerState.OPEN
    assert breaker.retry_in() == pytest.approx(30)
    clock.advance(30)
    assert breaker.allow()


def test_a_probe_without_verdict_is_released() -> None:
    clock = FakeClock()
    breaker = _breaker(clock)
    for _ in range(3):
        breaker.record_failure()
    clock.advance(30)
    assert breaker.allow()
    breaker.release_probe()
    assert breaker.allow()


def test_one_breaker_per_provider() -> None:
    breakers = CircuitBreakers(clock=FakeClock(), failure_threshold=1, cool_down_s=5)
    breakers.for_provider("anthropic").record_failure()
    assert breakers.for_provider("anthropic") is breakers.for_provider("anthropic")
    assert breakers.for_provider("openai").allow()
    assert breakers.states() == {"anthropic": BreakerState.OPEN, "openai": BreakerState.CLOSED}


def test_threshold_must_be_positive() -> None:
    with pytest.raises(ValueError, match="failure_threshold"):
        CircuitBreaker(clock=FakeClock(), failure_threshold=0)

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from llm_provider.clock import FakeClock
from llm_provider.domain.rate_limit import (
    RateLimitDeadlineError,
    RateLimiter,
    RateLimits,
    Reservation,
    parse_duration,
    parse_rate_limit_headers,
)

KEY = ("anthropic", "claude-haiku-4-5")


def _limiter(clock: FakeClock, **limits: float) -> RateLimiter:
    return RateLimiter(clock, {KEY: RateLimits(**limits)})


def test_requests_per_minute_bucket_admits_the_limit_then_asks_to_wait() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, requests_per_minute=60)
    for _ in range(60):
        assert isinstance(
            limiter.try_acquire(KEY, input_tokens=0, max_output_tokens=0), Reservation
        )
    wait = limiter.try_acquire(KEY, input_tokens=0, max_output_tokens=0)
    assert wait == pytest.approx(1.0)  # one request refills every second at 60/min
    clock.advance(1.0)
    assert isinstance(limiter.try_acquire(KEY, input_tokens=0, max_output_tokens=0), Reservation)


def test_input_tokens_bucket_waits_for_the_deficit() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, input_tokens_per_minute=6000)
    assert isinstance(limiter.try_acquire(KEY, input_tokens=5000, max_output_tokens=0), Reservation)
    # 1000 left, 3000 needed: 2000 at 100 tokens/s
    assert limiter.try_acquire(KEY, input_tokens=3000, max_output_tokens=0) == pytest.approx(20.0)


async def test_acquire_awaits_on_the_injected_clock() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, requests_per_minute=30)
    for _ in range(30):
        await limiter.acquire(KEY, input_tokens=0, max_output_tokens=0)
    _, waited = await limiter.acquire(KEY, input_tokens=0, max_output_tokens=0)
    assert waited == pytest.approx(2.0)
    assert clock.total_slept == pytest.approx(2.0)


async def test_acquire_refuses_to_wait_past_the_deadline() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, requests_per_minute=1)
    await limiter.acquire(KEY, input_tokens=0, max_output_tokens=0)
    with pytest.raises(RateLimitDeadlineError):
        await limiter.acquire(
            KEY, input_tokens=0, max_output_tokens=0, deadline=clock.monotonic() + 30
        )
    assert clock.sleeps == []


def test_output_reservation_is_max_tokens_and_the_unused_part_is_refunded() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, output_tokens_per_minute=1000)
    reservation = limiter.try_acquire(KEY, input_tokens=0, max_output_tokens=800)
    assert isinstance(reservation, Reservation)
    assert limiter.levels(KEY)["output_tokens"] == pytest.approx(200)
    assert not isinstance(
        limiter.try_acquire(KEY, input_tokens=0, max_output_tokens=800), Reservation
    )
    limiter.settle(reservation, input_tokens=0, output_tokens=50)
    assert limiter.levels(KEY)["output_tokens"] == pytest.approx(950)
    assert isinstance(limiter.try_acquire(KEY, input_tokens=0, max_output_tokens=800), Reservation)


def test_settle_charges_input_beyond_the_estimate_and_only_once() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, input_tokens_per_minute=10_000)
    reservation = limiter.try_acquire(KEY, input_tokens=1000, max_output_tokens=0)
    assert isinstance(reservation, Reservation)
    limiter.settle(reservation, input_tokens=1500, output_tokens=0)
    assert limiter.levels(KEY)["input_tokens"] == pytest.approx(8500)
    with pytest.raises(ValueError, match="already settled"):
        limiter.settle(reservation, input_tokens=0, output_tokens=0)


def test_a_request_larger_than_the_bucket_is_admitted_when_full_not_deadlocked() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, input_tokens_per_minute=1000)
    assert isinstance(limiter.try_acquire(KEY, input_tokens=3000, max_output_tokens=0), Reservation)
    # the 2000-token debt is paid off before anything else goes out
    assert limiter.try_acquire(KEY, input_tokens=1, max_output_tokens=0) == pytest.approx(
        (2000 + 1) / (1000 / 60)
    )


def test_unconfigured_keys_are_not_limited() -> None:
    limiter = RateLimiter(FakeClock())
    for _ in range(10_000):
        assert isinstance(
            limiter.try_acquire(("offline", "x"), input_tokens=10**6, max_output_tokens=10**6),
            Reservation,
        )


def test_pause_holds_every_call_on_the_key() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, requests_per_minute=1000)
    limiter.pause(KEY, 7.5)
    assert limiter.try_acquire(KEY, input_tokens=0, max_output_tokens=0) == pytest.approx(7.5)
    clock.advance(7.5)
    assert isinstance(limiter.try_acquire(KEY, input_tokens=0, max_output_tokens=0), Reservation)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("6m0s", 360.0), ("1s", 1.0), ("20ms", 0.02), ("1h2m3.5s", 3723.5), ("0.5", 0.5)],
)
def test_openai_reset_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "soon", "5x", "1s2"])
def test_unparseable_durations(text: str) -> None:
    assert parse_duration(text) is None


def test_anthropic_headers_are_read_per_dimension() -> None:
    clock = FakeClock()
    reset = datetime.fromtimestamp(clock.wall() + 30, tz=UTC).isoformat().replace("+00:00", "Z")
    snapshot = parse_rate_limit_headers(
        {
            "anthropic-ratelimit-requests-limit": "50",
            "anthropic-ratelimit-requests-remaining": "12",
            "anthropic-ratelimit-requests-reset": reset,
            "anthropic-ratelimit-input-tokens-limit": "50000",
            "anthropic-ratelimit-input-tokens-remaining": "41000",
            "anthropic-ratelimit-input-tokens-reset": reset,
            "anthropic-ratelimit-output-tokens-limit": "10000",
            "anthropic-ratelimit-output-tokens-remaining": "9000",
            "anthropic-ratelimit-output-tokens-reset": reset,
        },
        now_wall=clock.wall(),
    )
    assert snapshot.requests is not None
    assert snapshot.requests.remaining == 12
    assert snapshot.requests.reset_after_s == pytest.approx(30)
    assert snapshot.input_tokens is not None
    assert snapshot.input_tokens.limit == 50000
    assert snapshot.output_tokens is not None
    assert snapshot.output_tokens.remaining == 9000


def test_openai_token_budget_maps_to_the_input_bucket() -> None:
    snapshot = parse_rate_limit_headers(
        {
            "x-ratelimit-limit-requests": "500",
            "x-ratelimit-remaining-requests": "499",
            "x-ratelimit-reset-requests": "120ms",
            "x-ratelimit-limit-tokens": "200000",
            "x-ratelimit-remaining-tokens": "150000",
            "x-ratelimit-reset-tokens": "15s",
        },
        now_wall=0.0,
    )
    assert snapshot.requests is not None
    assert snapshot.requests.reset_after_s == pytest.approx(0.12)
    assert snapshot.input_tokens is not None
    assert snapshot.input_tokens.remaining == 150000
    assert snapshot.output_tokens is None


def test_sync_lowers_the_level_to_what_the_provider_reports() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, requests_per_minute=60, input_tokens_per_minute=60_000)
    limiter.sync_from_headers(
        KEY,
        {
            "anthropic-ratelimit-requests-remaining": "3",
            "anthropic-ratelimit-input-tokens-remaining": "1000",
        },
    )
    levels = limiter.levels(KEY)
    assert levels["requests"] == pytest.approx(3)
    assert levels["input_tokens"] == pytest.approx(1000)


def test_sync_never_raises_the_level_above_the_local_count() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, requests_per_minute=60)
    for _ in range(50):
        limiter.try_acquire(KEY, input_tokens=0, max_output_tokens=0)
    limiter.sync_from_headers(KEY, {"x-ratelimit-remaining-requests": "60"})
    assert limiter.levels(KEY)["requests"] == pytest.approx(10)


def test_a_lower_provider_limit_shrinks_the_bucket() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, requests_per_minute=600)
    limiter.sync_from_headers(KEY, {"x-ratelimit-limit-requests": "60"})
    assert limiter.levels(KEY)["requests"] == pytest.approx(60)
    for _ in range(60):
        limiter.try_acquire(KEY, input_tokens=0, max_output_tokens=0)
    assert limiter.try_acquire(KEY, input_tokens=0, max_output_tokens=0) == pytest.approx(1.0)


def test_refill_is_no_faster_than_the_provider_reset_says() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, requests_per_minute=60)
    # Provider: 0 of 60 left, full again in 120 s -> 0.5 requests/s, half our configured rate.
    limiter.sync_from_headers(
        KEY,
        {
            "x-ratelimit-limit-requests": "60",
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": "2m0s",
        },
    )
    assert limiter.try_acquire(KEY, input_tokens=0, max_output_tokens=0) == pytest.approx(2.0)
    clock.advance(120)  # the provider's window is over: full again, configured rate again
    for _ in range(60):
        assert isinstance(
            limiter.try_acquire(KEY, input_tokens=0, max_output_tokens=0), Reservation
        )
    assert limiter.try_acquire(KEY, input_tokens=0, max_output_tokens=0) == pytest.approx(1.0)


def test_headers_with_anthropic_rfc3339_reset_slow_the_refill() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, input_tokens_per_minute=60_000)
    reset = datetime.fromtimestamp(clock.wall() + 60, tz=UTC).isoformat()
    limiter.sync_from_headers(
        KEY,
        {
            "anthropic-ratelimit-input-tokens-limit": "60000",
            "anthropic-ratelimit-input-tokens-remaining": "30000",
            "anthropic-ratelimit-input-tokens-reset": reset,
        },
    )
    # provider refills 30000 in 60 s = 500/s, our configured rate is 1000/s
    assert limiter.try_acquire(KEY, input_tokens=31_000, max_output_tokens=0) == pytest.approx(2.0)


@settings(max_examples=50)
@given(workers=st.integers(1, 8), per_minute=st.integers(1, 600), minutes=st.integers(1, 3))
def test_workers_sharing_a_limit_stay_within_it_together(
    workers: int, per_minute: int, minutes: int
) -> None:
    clock = FakeClock()
    limiters = [
        RateLimiter(clock, {KEY: RateLimits(requests_per_minute=per_minute)}, share=1 / workers)
        for _ in range(workers)
    ]
    admitted = 0
    for _ in range(minutes * 60):  # every worker asks as often as it may, once a second
        for limiter in limiters:
            while isinstance(
                limiter.try_acquire(KEY, input_tokens=0, max_output_tokens=0), Reservation
            ):
                admitted += 1
        clock.advance(1.0)
    # One full bucket's burst plus the refill: never N times the limit. A share smaller than
    # one request is still admitted when its bucket is full, hence one extra per worker.
    assert admitted <= per_minute * (minutes + 1) + workers


def test_a_workers_share_of_what_the_provider_reports_remaining() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock, {KEY: RateLimits(requests_per_minute=90)}, share=1 / 3)
    assert limiter.levels(KEY)["requests"] == pytest.approx(30)
    limiter.sync_from_headers(KEY, {"x-ratelimit-remaining-requests": "30"})
    assert limiter.levels(KEY)["requests"] == pytest.approx(10)
    with pytest.raises(ValueError, match="share"):
        RateLimiter(clock, share=0.0)

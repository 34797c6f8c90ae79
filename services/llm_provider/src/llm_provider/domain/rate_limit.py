"""Token-bucket rate limiting per (provider, model) on requests, input and output tokens/min.

A call reserves one request, its estimated input tokens and its full `max_tokens` of output
before it goes out; `settle` charges what the provider actually billed and refunds the rest.
After every call the buckets are re-synced from the provider's rate-limit headers: the local
level never exceeds what the provider says remains, and until the provider's stated reset the
local refill is no faster than the provider's own (limit - remaining) / reset.

Header mapping: Anthropic reports requests, input tokens and output tokens separately
(`anthropic-ratelimit-{requests,input-tokens,output-tokens}-{limit,remaining,reset}`, reset an
RFC 3339 time). OpenAI reports requests and one token budget (`x-ratelimit-{limit,remaining,
reset}-{requests,tokens}`, reset a duration such as "6m0s", "1s", "20ms"); its token budget is
applied to the input-token bucket, the binding one for essay-length prompts.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from llm_provider.clock import Clock

LimitKey = tuple[str, str]  # (provider, model)


@dataclass(frozen=True)
class RateLimits:
    """Per-minute limits; None means that dimension is not limited."""

    requests_per_minute: float | None = None
    input_tokens_per_minute: float | None = None
    output_tokens_per_minute: float | None = None


@dataclass(frozen=True)
class LimitState:
    """One dimension of a provider's rate-limit headers."""

    limit: float | None
    remaining: float | None
    reset_after_s: float | None


@dataclass(frozen=True)
class RateLimitSnapshot:
    requests: LimitState | None = None
    input_tokens: LimitState | None = None
    output_tokens: LimitState | None = None


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_duration(text: str) -> float | None:
    """OpenAI reset durations ("6m0s", "1s", "20ms", "1h2m3.5s", bare seconds) -> seconds."""
    value = text.strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    position = 0
    total = 0.0
    for match in _DURATION_PART.finditer(value):
        if match.start() != position:
            return None
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    return total if position == len(value) else None


def _parse_reset(text: str, now_wall: float) -> float | None:
    """A reset given as an RFC 3339 time (Anthropic) or a duration (OpenAI) -> seconds from now."""
    duration = parse_duration(text)
    if duration is not None:
        return duration
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now_wall)


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def _state(headers: Mapping[str, str], dimension: str, now_wall: float) -> LimitState | None:
    """`dimension` is a header-name template with `{}` for limit/remaining/reset."""
    raw_limit = headers.get(dimension.format("limit"))
    raw_remaining = headers.get(dimension.format("remaining"))
    raw_reset = headers.get(dimension.format("reset"))
    if raw_limit is None and raw_remaining is None and raw_reset is None:
        return None
    return LimitState(
        limit=_number(raw_limit),
        remaining=_number(raw_remaining),
        reset_after_s=_parse_reset(raw_reset, now_wall) if raw_reset is not None else None,
    )


def parse_rate_limit_headers(headers: Mapping[str, str], *, now_wall: float) -> RateLimitSnapshot:
    """Read either provider's rate-limit headers into one snapshot (empty if there are none)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    if any(name.startswith("anthropic-ratelimit-") for name in lowered):
        return RateLimitSnapshot(
            requests=_state(lowered, "anthropic-ratelimit-requests-{}", now_wall),
            input_tokens=_state(lowered, "anthropic-ratelimit-input-tokens-{}", now_wall)
            or _state(lowered, "anthropic-ratelimit-tokens-{}", now_wall),
            output_tokens=_state(lowered, "anthropic-ratelimit-output-tokens-{}", now_wall),
        )
    return RateLimitSnapshot(
        requests=_state(lowered, "x-ratelimit-{}-requests", now_wall),
        input_tokens=_state(lowered, "x-ratelimit-{}-tokens", now_wall),
    )


class TokenBucket:
    """A bucket of `per_minute` capacity refilled continuously; the level may go negative.

    A negative level is debt: a call billed more than it reserved, and later calls wait for it.
    A cost larger than the capacity is admitted when the bucket is full, never deadlocked.
    """

    def __init__(self, per_minute: float, *, now: float) -> None:
        if per_minute <= 0:
            raise ValueError("a limit must be positive")
        self._configured = per_minute
        self.capacity = per_minute
        self.level = per_minute
        self._updated = now
        self._synced_rate: float | None = None  # provider's refill rate, until _synced_until
        self._synced_until = now

    @property
    def rate(self) -> float:
        """Units per second at the configured (or provider-lowered) capacity."""
        return self.capacity / 60.0

    def _rate_at_segments(self, start: float, end: float) -> list[tuple[float, float]]:
        segments: list[tuple[float, float]] = []
        if self._synced_rate is not None and start < self._synced_until:
            slow_end = min(end, self._synced_until)
            segments.append((slow_end - start, min(self.rate, self._synced_rate)))
            start = slow_end
        if end > start:
            segments.append((end - start, self.rate))
        return segments

    def refill(self, now: float) -> None:
        if now <= self._updated:
            return
        gained = sum(length * rate for length, rate in self._rate_at_segments(self._updated, now))
        self.level = min(self.capacity, self.level + gained)
        self._updated = now
        if self._synced_rate is not None and now >= self._synced_until:
            self._synced_rate = None

    def wait_for(self, amount: float, now: float) -> float:
        """Seconds from `now` until `amount` can be taken (0 if it can be taken now)."""
        self.refill(now)
        needed = min(amount, self.capacity) - self.level
        if needed <= 1e-9:
            return 0.0
        waited = 0.0
        if self._synced_rate is not None and now < self._synced_until:
            slow_rate = min(self.rate, self._synced_rate)
            window = self._synced_until - now
            if slow_rate > 0 and needed <= slow_rate * window:
                return needed / slow_rate
            needed -= slow_rate * window
            waited = window
        return waited + needed / self.rate

    def take(self, amount: float) -> None:
        self.level -= amount

    def give_back(self, amount: float) -> None:
        self.level = min(self.capacity, self.level + amount)

    def sync(self, state: LimitState, now: float) -> None:
        self.refill(now)
        if state.limit is not None and state.limit > 0:
            self.capacity = min(self._configured, state.limit)
            self.level = min(self.level, self.capacity)
        if state.remaining is not None:
            self.level = min(self.level, state.remaining)
            limit = state.limit if state.limit is not None else self.capacity
            reset = state.reset_after_s
            if reset is not None and reset > 0 and limit > state.remaining:
                self._synced_rate = (limit - state.remaining) / reset
                self._synced_until = now + reset


class RateLimitDeadlineError(Exception):
    """The call would only fit after its deadline."""

    def __init__(self, key: LimitKey, wait_s: float) -> None:
        super().__init__(f"{key[0]}/{key[1]}: rate limit frees up in {wait_s:.1f}s, after deadline")
        self.key = key
        self.wait_s = wait_s


@dataclass
class Reservation:
    """What one call took from its buckets; settle it exactly once."""

    key: LimitKey
    input_tokens: int
    output_tokens: int
    settled: bool = False


class _ModelBuckets:
    def __init__(self, limits: RateLimits, now: float) -> None:
        self.requests = _bucket(limits.requests_per_minute, now)
        self.input_tokens = _bucket(limits.input_tokens_per_minute, now)
        self.output_tokens = _bucket(limits.output_tokens_per_minute, now)
        self.paused_until = now


def _scaled_limits(limits: RateLimits, share: float) -> RateLimits:
    def part(value: float | None) -> float | None:
        return None if value is None else value * share

    return RateLimits(
        requests_per_minute=part(limits.requests_per_minute),
        input_tokens_per_minute=part(limits.input_tokens_per_minute),
        output_tokens_per_minute=part(limits.output_tokens_per_minute),
    )


def _scaled_state(state: LimitState, share: float) -> LimitState:
    """This process's part of a header-reported limit; the reset time is the provider's."""
    return LimitState(
        limit=None if state.limit is None else state.limit * share,
        remaining=None if state.remaining is None else state.remaining * share,
        reset_after_s=state.reset_after_s,
    )


def _bucket(per_minute: float | None, now: float) -> TokenBucket | None:
    return TokenBucket(per_minute, now=now) if per_minute else None


class RateLimiter:
    """All buckets of all (provider, model) keys; a key without configured limits is limited
    only by pauses (a 429's retry-after).

    `share` is this process's part of every limit when several worker processes call the same
    provider accounts (1/N for N workers): its buckets hold that share of the configured
    limits and of what the provider's headers report, so together the workers never plan to
    exceed a limit. An idle worker's share goes unused; the provider's 429s stay the backstop.
    """

    def __init__(
        self,
        clock: Clock,
        limits: Mapping[LimitKey, RateLimits] | None = None,
        *,
        share: float = 1.0,
    ) -> None:
        if not 0.0 < share <= 1.0:
            raise ValueError("a rate-limit share must be in (0, 1]")
        self._clock = clock
        self._share = share
        self._limits: dict[LimitKey, RateLimits] = dict(limits or {})
        self._buckets: dict[LimitKey, _ModelBuckets] = {}

    def configure(self, key: LimitKey, limits: RateLimits) -> None:
        self._limits[key] = limits
        self._buckets.pop(key, None)

    def _for(self, key: LimitKey) -> _ModelBuckets:
        buckets = self._buckets.get(key)
        if buckets is None:
            limits = self._limits.get(key, RateLimits())
            buckets = _ModelBuckets(_scaled_limits(limits, self._share), self._clock.monotonic())
            self._buckets[key] = buckets
        return buckets

    def try_acquire(
        self, key: LimitKey, *, input_tokens: int, max_output_tokens: int
    ) -> Reservation | float:
        """Reserve now, or return how many seconds to wait before asking again."""
        buckets = self._for(key)
        reservation = Reservation(key, input_tokens, max_output_tokens)
        now = self._clock.monotonic()
        wait = max(0.0, buckets.paused_until - now)
        for bucket, amount in (
            (buckets.requests, 1),
            (buckets.input_tokens, input_tokens),
            (buckets.output_tokens, max_output_tokens),
        ):
            if bucket is not None:
                wait = max(wait, bucket.wait_for(amount, now))
        if wait > 0:
            return wait
        for bucket, amount in (
            (buckets.requests, 1),
            (buckets.input_tokens, input_tokens),
            (buckets.output_tokens, max_output_tokens),
        ):
            if bucket is not None:
                bucket.take(amount)
        return reservation

    async def acquire(
        self,
        key: LimitKey,
        *,
        input_tokens: int,
        max_output_tokens: int,
        deadline: float | None = None,
    ) -> tuple[Reservation, float]:
        """Wait on the injected clock until the call fits; returns the reservation and the wait.

        Raises RateLimitDeadlineError instead of waiting past `deadline` (monotonic clock scale).
        """
        waited = 0.0
        while True:
            outcome = self.try_acquire(
                key, input_tokens=input_tokens, max_output_tokens=max_output_tokens
            )
            if isinstance(outcome, Reservation):
                return outcome, waited
            if deadline is not None and self._clock.monotonic() + outcome > deadline:
                raise RateLimitDeadlineError(key, outcome)
            waited += outcome
            await self._clock.sleep(outcome)

    def settle(self, reservation: Reservation, *, input_tokens: int, output_tokens: int) -> None:
        """Charge what was billed instead of what was reserved (refund or extra charge)."""
        if reservation.settled:
            raise ValueError("reservation already settled")
        reservation.settled = True
        buckets = self._for(reservation.key)
        now = self._clock.monotonic()
        for bucket, reserved, used in (
            (buckets.input_tokens, reservation.input_tokens, input_tokens),
            (buckets.output_tokens, reservation.output_tokens, output_tokens),
        ):
            if bucket is None:
                continue
            bucket.refill(now)
            if used <= reserved:
                bucket.give_back(reserved - used)
            else:
                bucket.take(used - reserved)

    def sync_from_headers(self, key: LimitKey, headers: Mapping[str, str]) -> RateLimitSnapshot:
        """Tighten the key's buckets to what the provider reports; returns what was read."""
        snapshot = parse_rate_limit_headers(headers, now_wall=self._clock.wall())
        buckets = self._for(key)
        now = self._clock.monotonic()
        for bucket, state in (
            (buckets.requests, snapshot.requests),
            (buckets.input_tokens, snapshot.input_tokens),
            (buckets.output_tokens, snapshot.output_tokens),
        ):
            if bucket is not None and state is not None:
                bucket.sync(_scaled_state(state, self._share), now)
        return snapshot

    def pause(self, key: LimitKey, seconds: float) -> None:
        """Hold every call on this key (a 429 with retry-after applies to all of them)."""
        buckets = self._for(key)
        buckets.paused_until = max(buckets.paused_until, self._clock.monotonic() + seconds)

    def levels(self, key: LimitKey) -> dict[str, float]:
        """Current bucket levels (for metrics and tests)."""
        buckets = self._for(key)
        now = self._clock.monotonic()
        result: dict[str, float] = {}
        for name, bucket in (
            ("requests", buckets.requests),
            ("input_tokens", buckets.input_tokens),
            ("output_tokens", buckets.output_tokens),
        ):
            if bucket is not None:
                bucket.refill(now)
                result[name] = bucket.level
        return result

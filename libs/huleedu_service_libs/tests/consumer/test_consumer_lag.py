"""`huleedu_consumer_lag`: set per partition after each poll, dropped when the loop stops."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from huleedu_service_libs.kafka.consumer import partition_lag

offsets = st.integers(min_value=0, max_value=2**62)


@given(highwater=offsets, position=offsets)
def test_lag_is_never_negative_and_exact_when_the_watermark_is_ahead(
    highwater: int, position: int
) -> None:
    lag = partition_lag(highwater, position)

    assert lag >= 0
    if highwater >= position:
        assert lag == highwater - position


def _lag(h: Any) -> float | None:
    return REGISTRY.get_sample_value(
        "huleedu_consumer_lag",
        {"consumer": h.consumer_name, "topic": h.logical_topic, "partition": "0"},
    )


@pytest.mark.integration
async def test_lag_counts_what_is_left_and_reaches_zero_once_consumed(harness_factory) -> None:
    h = await harness_factory()
    seen: list[float | None] = []

    async def record_lag(_envelope: Any, _uow: Any) -> None:
        seen.append(_lag(h))

    envelopes = [h.envelope(f"essay-{n}") for n in range(5)]
    for envelope in envelopes:
        await h.produce(envelope)
    # One message per poll: the gauge is set between messages.
    loop = h.loop(h.handler(during=record_lag), guard=h.guard(), max_records=1)
    async with h.running(loop):
        await h.wait_until(lambda: _all_handled(h, 5), what="five messages handled")
        await h.wait_until(lambda: _lag_is(h, 0.0), what="lag back to 0")
        assert seen[0] is None  # nothing fetched before the first message
        observed = [value for value in seen[1:] if value is not None]
        assert observed, "the lag was never set between messages"
        # Never more than what was left; the dev broker may report a trailing watermark (0).
        assert all(0 <= value <= 4 for value in observed)
        assert observed == sorted(observed, reverse=True)

    assert _lag(h) is None  # a stopped consumer owns no partition: its series are gone


async def _all_handled(h: Any, count: int) -> bool:
    return bool(await h.effect_total() >= count)


async def _lag_is(h: Any, value: float) -> bool:
    return _lag(h) == value

"""Invariants 2 and 3: redelivered and reordered events leave the same read model as one
in-order delivery: one row per essay, the same views, and a gapless progress log."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest
from result_aggregator.domain.teacher_view import essay_detail, results_view, status_view

from huleedu_service_libs.kafka.consumer import Outcome

from .conftest import Ras, Story, story

pytestmark = pytest.mark.integration


async def views(ras: Ras, told: Story) -> dict[str, Any]:
    facts = await ras.facts(told.batch_id)
    return {
        "status": status_view(facts).model_dump(mode="json"),
        "results": results_view(facts).model_dump(mode="json"),
        "essays": [
            essay_detail(facts, e).model_dump(mode="json") for e in facts.essays if not e.is_anchor
        ],
    }


def deliveries(told: Story, pattern: str) -> list[Any]:
    events = told.events
    if pattern == "each-thrice":
        return [e for e in events for _ in range(3)]
    if pattern == "reversed-thrice":
        return list(reversed(events)) * 3
    shuffled = list(events)
    random.Random(pattern).shuffle(shuffled)
    return shuffled


@pytest.mark.parametrize(
    ("pattern", "guard"),
    [
        ("each-thrice", True),
        ("each-thrice", False),
        ("reversed-thrice", True),
        ("shuffle-1", False),
        ("shuffle-2", True),
    ],
    ids=[
        "each-thrice",
        "each-thrice-inbox-only",
        "reversed-thrice",
        "shuffled-inbox-only",
        "shuffled",
    ],
)
async def test_any_order_and_redelivery_give_the_same_read_model(
    ras_factory, guard: bool, pattern: str
) -> None:
    told = story()
    once = await ras_factory()
    other = await ras_factory()

    assert await once.deliver(told.events) == {Outcome.HANDLED: len(told.events)}
    outcomes = await other.deliver(deliveries(told, pattern), guard=guard)

    assert outcomes[Outcome.HANDLED] == len(told.events)
    assert sum(outcomes.values()) - outcomes[Outcome.HANDLED] == outcomes.get(Outcome.DUPLICATE, 0)
    assert await views(other, told) == await views(once, told)
    # One row per slot plus the anchor, however often or in whatever order they were named.
    assert await other.essay_rows(told.batch_id) == len(told.essay_ids) + 1
    assert await other.seqs(told.batch_id) == list(range(1, len(told.events) + 1))
    kinds = Counter(p.kind for p in await other.progress(told.batch_id))
    assert kinds == Counter(p.kind for p in await once.progress(told.batch_id))

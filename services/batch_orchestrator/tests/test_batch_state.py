"""The batch state machine, property-tested: no illegal transition is reachable.

Hypothesis drives arbitrary trigger sequences (duplicates and late arrivals included) through
`decide`, starting from registration, and checks the lifecycle's rules on every step.
"""

from __future__ import annotations

from collections import deque
from itertools import pairwise

import pytest
from batch_orchestrator.domain.batch_state import (
    ALLOWED_TRANSITIONS,
    INITIAL_STATUS,
    RULES,
    BatchTrigger,
    Rule,
    Verdict,
    check_rules,
    decide,
)
from hypothesis import given
from hypothesis import strategies as st

from common_core.status import BatchStatus

TRIGGERS = st.sampled_from(list(BatchTrigger))
STATUSES = st.sampled_from(list(BatchStatus))
WALKS = st.lists(TRIGGERS, max_size=40)
INTAKE_TRIGGERS = {BatchTrigger.CONTENT_READY, BatchTrigger.CONTENT_UNUSABLE}


def run(triggers: list[BatchTrigger], start: BatchStatus = INITIAL_STATUS) -> list[BatchStatus]:
    """The statuses a batch passes through (start included), one per trigger."""
    statuses = [start]
    for trigger in triggers:
        statuses.append(decide(statuses[-1], trigger).after)
    return statuses


@given(WALKS)
def test_every_change_is_an_allowed_transition_and_nothing_else_changes(
    triggers: list[BatchTrigger],
) -> None:
    status = INITIAL_STATUS
    for trigger in triggers:
        decision = decide(status, trigger)
        assert decision.before is status
        if decision.verdict is Verdict.APPLY:
            assert decision.after in ALLOWED_TRANSITIONS[status]
            assert decision.reason is None
        else:
            assert decision.after is status
            assert decision.reason
        status = decision.after


@given(WALKS, WALKS)
def test_terminal_is_terminal(prefix: list[BatchTrigger], suffix: list[BatchTrigger]) -> None:
    status = run(prefix)[-1]
    if not status.is_terminal:
        status = decide(status, BatchTrigger.CANCELLED).after
    assert status.is_terminal
    for trigger in suffix:
        decision = decide(status, trigger)
        assert decision.verdict is Verdict.IGNORE
        assert decision.after is status


@given(WALKS, st.lists(st.integers(min_value=1, max_value=3), min_size=40, max_size=40))
def test_redelivered_triggers_end_in_the_same_status(
    triggers: list[BatchTrigger], copies: list[int]
) -> None:
    """Every trigger delivered 1-3 times in a row: the same statuses, the same changes."""
    once = run(triggers)
    redelivered = [t for t, n in zip(triggers, copies, strict=False) for _ in range(n)]
    assert run(redelivered)[-1] is once[-1]
    assert _changes(run(redelivered)) == _changes(once)


def _changes(statuses: list[BatchStatus]) -> list[tuple[BatchStatus, BatchStatus]]:
    return [(a, b) for a, b in pairwise(statuses) if a is not b]


@given(STATUSES, TRIGGERS)
def test_a_trigger_applies_at_most_once_in_a_row(
    status: BatchStatus, trigger: BatchTrigger
) -> None:
    first = decide(status, trigger)
    if first.changes_status:
        assert decide(first.after, trigger).verdict is not Verdict.APPLY


@given(WALKS, st.sampled_from(sorted(INTAKE_TRIGGERS)))
def test_intake_outcomes_after_intake_are_ignored_never_rejected(
    triggers: list[BatchTrigger], late: BatchTrigger
) -> None:
    status = run(triggers)[-1]
    if status is INITIAL_STATUS:
        return
    decision = decide(status, late)
    assert decision.verdict is Verdict.IGNORE
    assert decision.after is status


@given(WALKS)
def test_no_batch_goes_back_to_awaiting_content(triggers: list[BatchTrigger]) -> None:
    statuses = run(triggers)
    first_other = next((i for i, s in enumerate(statuses) if s is not INITIAL_STATUS), None)
    if first_other is not None:
        assert INITIAL_STATUS not in statuses[first_other:]


def _reachable(start: BatchStatus) -> set[BatchStatus]:
    seen = {start}
    queue = deque([start])
    while queue:
        status = queue.popleft()
        for trigger in BatchTrigger:
            decision = decide(status, trigger)
            if decision.after not in seen:
                seen.add(decision.after)
                queue.append(decision.after)
    return seen


def test_every_status_is_reachable_and_every_batch_can_end() -> None:
    assert _reachable(INITIAL_STATUS) == set(BatchStatus)
    for status in BatchStatus:
        assert any(s.is_terminal for s in _reachable(status)), status


def test_a_batch_runs_pipelines_one_at_a_time_after_its_content() -> None:
    path = [
        (BatchTrigger.CONTENT_READY, BatchStatus.READY),
        (BatchTrigger.PIPELINE_STARTED, BatchStatus.PROCESSING),
        (BatchTrigger.PIPELINE_COMPLETED_WITH_FAILURES, BatchStatus.COMPLETED_WITH_FAILURES),
        (BatchTrigger.PIPELINE_STARTED, BatchStatus.PROCESSING),
        (BatchTrigger.PIPELINE_SUCCEEDED, BatchStatus.COMPLETED_SUCCESSFULLY),
    ]
    status = INITIAL_STATUS
    for trigger, expected in path:
        decision = decide(status, trigger)
        assert (decision.verdict, decision.after) == (Verdict.APPLY, expected)
        status = decision.after


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (BatchStatus.AWAITING_CONTENT, Verdict.REJECT),  # content is still awaited
        (BatchStatus.PROCESSING, Verdict.REJECT),  # a pipeline is already running
        (BatchStatus.FAILED, Verdict.IGNORE),
    ],
)
def test_a_pipeline_cannot_start_before_content_or_during_another(
    status: BatchStatus, verdict: Verdict
) -> None:
    decision = decide(status, BatchTrigger.PIPELINE_STARTED)
    assert decision.verdict is verdict
    assert decision.after is status
    assert status.value in (decision.reason or "")


def test_unusable_content_fails_the_batch_and_a_stuck_batch_times_out() -> None:
    assert decide(BatchStatus.AWAITING_CONTENT, BatchTrigger.CONTENT_UNUSABLE).after is (
        BatchStatus.FAILED
    )
    assert decide(BatchStatus.PROCESSING, BatchTrigger.TIMED_OUT).after is BatchStatus.FAILED
    assert decide(BatchStatus.READY, BatchTrigger.TIMED_OUT).verdict is Verdict.IGNORE


def test_rules_that_leave_the_graph_are_refused_at_load() -> None:
    escaping = dict(RULES)
    escaping[BatchTrigger.CONTENT_READY] = Rule(
        moves={BatchStatus.AWAITING_CONTENT: BatchStatus.COMPLETED_SUCCESSFULLY}
    )
    with pytest.raises(ValueError, match="not an allowed transition"):
        check_rules(ALLOWED_TRANSITIONS, escaping)

    reviving = dict(ALLOWED_TRANSITIONS)
    reviving[BatchStatus.FAILED] = frozenset({BatchStatus.READY})
    with pytest.raises(ValueError, match="terminal"):
        check_rules(reviving, RULES)

    contradicting = dict(RULES)
    contradicting[BatchTrigger.PIPELINE_STARTED] = Rule(
        moves={BatchStatus.READY: BatchStatus.PROCESSING},
        late_in=frozenset({BatchStatus.READY}),
    )
    with pytest.raises(ValueError, match="both moves and late"):
        check_rules(ALLOWED_TRANSITIONS, contradicting)

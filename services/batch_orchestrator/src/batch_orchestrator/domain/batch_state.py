"""The batch status state machine: which trigger moves a batch from which status to which.

Everything is data. `ALLOWED_TRANSITIONS` is the lifecycle graph; `RULES` says, per trigger,
which edge of that graph it drives and in which statuses it arrives too late to matter. The
rules are checked against the graph when this module loads, so a bad edit fails at import,
never in production.

A trigger gets one of three verdicts:
- APPLY: the batch moves (exactly one edge of the graph);
- IGNORE: a late or duplicate delivery (at-least-once delivery makes these normal), or any
  trigger on a terminal batch (terminal is terminal); nothing changes;
- REJECT: the trigger does not make sense now (a pipeline while content is still awaited,
  a second pipeline while one runs); nothing changes and the caller is told why.

Pipeline triggers act on whichever pipeline runs now; telling a stale completion of an earlier
pipeline from the current one is the job of the pipeline's own record, not of this graph.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from common_core.status import BatchStatus

S = BatchStatus

INITIAL_STATUS = S.AWAITING_CONTENT

ALLOWED_TRANSITIONS: Mapping[BatchStatus, frozenset[BatchStatus]] = MappingProxyType(
    {
        S.AWAITING_CONTENT: frozenset({S.READY, S.FAILED, S.CANCELLED}),
        S.READY: frozenset({S.PROCESSING, S.CANCELLED}),
        S.PROCESSING: frozenset(
            {S.COMPLETED_SUCCESSFULLY, S.COMPLETED_WITH_FAILURES, S.FAILED, S.CANCELLED}
        ),
        # A completed batch may run a further pipeline (e.g. CJ after spellcheck).
        S.COMPLETED_SUCCESSFULLY: frozenset({S.PROCESSING, S.CANCELLED}),
        S.COMPLETED_WITH_FAILURES: frozenset({S.PROCESSING, S.CANCELLED}),
        S.FAILED: frozenset(),
        S.CANCELLED: frozenset(),
    }
)
"""The batch lifecycle: every status a batch may move to from each status."""


class BatchTrigger(StrEnum):
    """Something that happened to a batch and may change its status."""

    CONTENT_READY = "content_ready"
    """ELS: every slot is filled or failed and at least one essay is usable."""
    CONTENT_UNUSABLE = "content_unusable"
    """ELS: every slot is filled or failed and no essay is usable."""
    PIPELINE_STARTED = "pipeline_started"
    PIPELINE_SUCCEEDED = "pipeline_succeeded"
    PIPELINE_COMPLETED_WITH_FAILURES = "pipeline_completed_with_failures"
    PIPELINE_FAILED = "pipeline_failed"
    TIMED_OUT = "timed_out"
    """The monitor found the batch stuck (every batch ends)."""
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Rule:
    """One trigger: the edges it drives and the statuses in which it is a late arrival."""

    moves: Mapping[BatchStatus, BatchStatus]
    late_in: frozenset[BatchStatus] = field(default_factory=frozenset)


_COMPLETED = frozenset({S.COMPLETED_SUCCESSFULLY, S.COMPLETED_WITH_FAILURES})
_AFTER_INTAKE = frozenset({S.READY, S.PROCESSING}) | _COMPLETED
_NON_TERMINAL = frozenset(s for s in S if not s.is_terminal)

RULES: Mapping[BatchTrigger, Rule] = MappingProxyType(
    {
        BatchTrigger.CONTENT_READY: Rule(
            moves={S.AWAITING_CONTENT: S.READY}, late_in=_AFTER_INTAKE
        ),
        BatchTrigger.CONTENT_UNUSABLE: Rule(
            moves={S.AWAITING_CONTENT: S.FAILED}, late_in=_AFTER_INTAKE
        ),
        BatchTrigger.PIPELINE_STARTED: Rule(
            moves={S.READY: S.PROCESSING, **dict.fromkeys(_COMPLETED, S.PROCESSING)}
        ),
        BatchTrigger.PIPELINE_SUCCEEDED: Rule(
            moves={S.PROCESSING: S.COMPLETED_SUCCESSFULLY}, late_in=_COMPLETED
        ),
        BatchTrigger.PIPELINE_COMPLETED_WITH_FAILURES: Rule(
            moves={S.PROCESSING: S.COMPLETED_WITH_FAILURES}, late_in=_COMPLETED
        ),
        BatchTrigger.PIPELINE_FAILED: Rule(moves={S.PROCESSING: S.FAILED}, late_in=_COMPLETED),
        # Resting statuses are not stuck: the work finished before the monitor acted.
        BatchTrigger.TIMED_OUT: Rule(
            moves={S.AWAITING_CONTENT: S.FAILED, S.PROCESSING: S.FAILED},
            late_in=frozenset({S.READY}) | _COMPLETED,
        ),
        BatchTrigger.CANCELLED: Rule(moves=dict.fromkeys(_NON_TERMINAL, S.CANCELLED)),
    }
)
"""Per trigger, the edges of `ALLOWED_TRANSITIONS` it drives."""


class Verdict(StrEnum):
    APPLY = "apply"
    IGNORE = "ignore"
    REJECT = "reject"


@dataclass(frozen=True)
class Decision:
    """What a trigger does to a batch in `before`; `after` is the status to store."""

    trigger: BatchTrigger
    verdict: Verdict
    before: BatchStatus
    after: BatchStatus
    reason: str | None = None

    @property
    def changes_status(self) -> bool:
        return self.verdict is Verdict.APPLY


def decide(status: BatchStatus, trigger: BatchTrigger) -> Decision:
    """The verdict of `trigger` on a batch in `status`; never raises for a known trigger."""
    if status.is_terminal:
        return Decision(
            trigger, Verdict.IGNORE, status, status, f"the batch is {status} (terminal)"
        )
    rule = RULES[trigger]
    target = rule.moves.get(status)
    if target is not None:
        return Decision(trigger, Verdict.APPLY, status, target)
    if status in rule.late_in:
        return Decision(
            trigger, Verdict.IGNORE, status, status, f"{trigger} arrived late: already {status}"
        )
    return Decision(
        trigger, Verdict.REJECT, status, status, f"{trigger} is not allowed while {status}"
    )


def check_rules(
    transitions: Mapping[BatchStatus, frozenset[BatchStatus]],
    rules: Mapping[BatchTrigger, Rule],
) -> None:
    """Raise ValueError if the rules leave the graph or contradict themselves."""
    if set(transitions) != set(S):
        raise ValueError("the transition graph must list every batch status")
    for status, targets in transitions.items():
        if status.is_terminal and targets:
            raise ValueError(f"terminal status {status} must have no way out")
        if status in targets:
            raise ValueError(f"{status} must not transition to itself")
    if set(rules) != set(BatchTrigger):
        raise ValueError("every trigger needs a rule")
    for trigger, rule in rules.items():
        for before, after in rule.moves.items():
            if after not in transitions[before]:
                raise ValueError(f"{trigger}: {before} -> {after} is not an allowed transition")
        overlap = set(rule.moves) & rule.late_in
        if overlap:
            raise ValueError(f"{trigger}: {sorted(overlap)} are both moves and late arrivals")
        if any(s.is_terminal for s in rule.late_in):
            raise ValueError(f"{trigger}: terminal statuses are always ignored, not late")


check_rules(ALLOWED_TRANSITIONS, RULES)

"""A CJ batch from request to its one final answer: waves of LLM comparisons, refits, the end.

Every step runs in the caller's UnitOfWork under the batch's row lock, so a redelivered event,
two workers and the monitor decide one after the other, and a batch emits its final events
(`CJAssessmentCompleted` + `AssessmentResult`, or `CJAssessmentFailed`) exactly once:
`finalised_at` is set in the same transaction, and ending a terminal batch is a no-op.

Waves: the first is random (pair_selection's warm-up), later ones are chosen by expected
information on a provisional fit. A wave is done when none of its requests is outstanding;
then the scale is refitted, the scores recorded, and the stopping rule decides between the
next wave and the end. An error result is asked again (new request id) up to
`max_error_retries` times, then counted as a failed comparison and excluded; its pair may be
chosen again in a later wave, and a batch whose failures reach its comparison target ends with
what it has.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

import numpy as np

from cj_assessment.domain.comparisons import Comparison, ScheduledPair
from cj_assessment.domain.pair_selection import select_wave
from cj_assessment.domain.scaling import ScalingError, fit_bradley_terry
from cj_assessment.domain.stopping import (
    CJBatchState,
    CJBatchStatus,
    StoppingRule,
    StopReason,
    TransitionOutcome,
    decide_stop,
)
from cj_assessment.grade_scales import grade_scale
from cj_assessment.metrics import (
    BATCHES_FINALISED,
    BATCHES_STARTED,
    COMPARISONS_COMPLETED,
    COMPARISONS_FAILED,
    COMPARISONS_REQUESTED,
    RESULTS_IGNORED,
    WAVES,
)
from cj_assessment.models import ComparisonState
from cj_assessment.ranking import BatchRanking, RankingFailedError, RankItem, rank_batch
from cj_assessment.repository import BatchRow, CJRepository, ComparisonRow, ItemRow
from cj_assessment.settings import CJAssessmentSettings
from common_core.errors import ErrorCode, ErrorDetail
from common_core.events import REGISTRY
from common_core.events.cj import (
    CJAssessmentCompleted,
    CJAssessmentFailed,
    CJAssessmentRequested,
)
from common_core.events.llm import (
    ComparisonPrompt,
    ComparisonWinner,
    LLMComparisonRequest,
    LLMComparisonResult,
    ModelPreference,
)
from common_core.events.results import AssessmentResult, EssayAssessmentResult, GradeProjection
from huleedu_service_libs.database import UnitOfWork
from huleedu_service_libs.logging import get_logger

_log = get_logger(__name__)


class EndReason(StrEnum):
    """Why a batch stopped collecting (the stopping rule's reasons and the service's own)."""

    SCALE_STABLE = StopReason.SCALE_STABLE.value
    COMPARISON_TARGET_REACHED = StopReason.COMPARISON_TARGET_REACHED.value
    ALL_PAIRS_JUDGED = StopReason.ALL_PAIRS_JUDGED.value
    SINGLE_ITEM = "single_item"
    NO_PAIRS_LEFT = "no_pairs_left"
    TOO_MANY_FAILED_COMPARISONS = "too_many_failed_comparisons"
    DEADLINE_REACHED = "deadline_reached"


_STOP_REASONS = {reason.value: reason for reason in StopReason}


@dataclass(frozen=True)
class AssessmentConfig:
    service_name: str
    judgements_per_essay_budget: float
    max_comparisons_per_batch: int
    stability_window: int
    stability_threshold: float
    min_judgements_per_essay: float
    max_error_retries: int
    request_deadline: timedelta
    batch_timeout: timedelta
    priority: int
    criteria: str
    instructions: str
    model_preference: ModelPreference

    @classmethod
    def from_settings(cls, settings: CJAssessmentSettings) -> AssessmentConfig:
        return cls(
            service_name=settings.service_name,
            judgements_per_essay_budget=settings.judgements_per_essay_budget,
            max_comparisons_per_batch=settings.max_comparisons_per_batch,
            stability_window=settings.stability_window,
            stability_threshold=settings.stability_threshold,
            min_judgements_per_essay=settings.min_judgements_per_essay,
            max_error_retries=settings.max_error_retries,
            request_deadline=timedelta(seconds=settings.request_deadline_s),
            batch_timeout=timedelta(seconds=settings.batch_timeout_s),
            priority=settings.request_priority,
            criteria=settings.judge_criteria,
            instructions=settings.judge_instructions,
            model_preference=ModelPreference(
                provider=settings.judge_provider,
                model=settings.judge_model,
                temperature=settings.judge_temperature,
            ),
        )

    def stopping_rule(self, budget: int) -> StoppingRule:
        return StoppingRule(
            budget=budget,
            stability_window=self.stability_window,
            stability_threshold=self.stability_threshold,
            min_judgements_per_item=self.min_judgements_per_essay,
        )


def comparison_budget(n_items: int, judgements_per_item: float, cap: int) -> int:
    """Valid comparisons a batch may use: judgements per item x items, at most `cap`."""
    return max(0, min(cap, math.ceil(judgements_per_item * n_items)))


def wave_rng(batch_id: UUID, wave: int) -> np.random.Generator:
    """Selection randomness fixed by batch and wave, so a re-run chooses the same pairs."""
    return np.random.default_rng([batch_id.int, wave])


# Request ----------------------------------------------------------------------------------


async def start_batch(
    uow: UnitOfWork, request: CJAssessmentRequested, correlation_id: UUID, config: AssessmentConfig
) -> bool:
    """Create the batch with its essays and the assignment's anchors; send the first wave.

    False (nothing changes) when the batch exists already: the request was redelivered.
    """
    repo = CJRepository(uow.session)
    items = [
        ItemRow(index, essay.essay_id, essay.text_id, False, None)
        for index, essay in enumerate(request.essays)
    ]
    scale = None
    if request.assignment_id is not None:
        assignment = await repo.assignment(request.assignment_id)
        if assignment is not None:
            essay_ids = {item.essay_id for item in items}
            for anchor in await repo.anchors(request.assignment_id):
                if anchor.anchor_id not in essay_ids:
                    items.append(
                        ItemRow(len(items), anchor.anchor_id, anchor.text_id, True, anchor.grade)
                    )
            scale = assignment.grade_scale if any(i.is_anchor for i in items) else None
    budget = comparison_budget(
        len(items), config.judgements_per_essay_budget, config.max_comparisons_per_batch
    )
    created = await repo.insert_batch(
        batch_id=request.batch_id,
        status=CJBatchStatus.COLLECTING,
        correlation_id=correlation_id,
        course_code=request.course_code,
        language=request.language,
        essay_instructions=request.essay_instructions,
        assignment_id=request.assignment_id,
        grade_scale=scale,
        comparison_budget=budget,
        deadline_at=datetime.now(UTC) + config.batch_timeout,
    )
    if not created:
        _log.info("cj_request_duplicate")
        return False
    await repo.insert_items(request.batch_id, items)
    BATCHES_STARTED.inc()
    _log.info(
        "cj_batch_started",
        essays=len(request.essays),
        anchors=sum(item.is_anchor for item in items),
        budget=budget,
    )
    batch = await repo.lock_batch(request.batch_id)
    if batch is None:  # pragma: no cover - inserted above in this transaction
        raise RuntimeError(f"batch {request.batch_id} vanished")
    if len(items) == 1:
        await _end(uow, repo, batch, items, [], EndReason.SINGLE_ITEM, config)
        return True
    pairs = select_wave(len(items), [], wave_rng(batch.batch_id, 1), max_pairs=budget)
    if not pairs:
        await _end(uow, repo, batch, items, [], EndReason.NO_PAIRS_LEFT, config)
        return True
    await _send_wave(uow, repo, batch, items, pairs, 1, config)
    return True


# Results ----------------------------------------------------------------------------------


async def record_result(
    uow: UnitOfWork, result: LLMComparisonResult, config: AssessmentConfig
) -> None:
    """Record one result exactly once; when it closes its wave, refit and decide what next."""
    repo = CJRepository(uow.session)
    batch = await repo.lock_batch_of(result.request_id)
    if batch is None:
        RESULTS_IGNORED.labels("unknown").inc()
        _log.warning("cj_result_unknown_request", request_id=str(result.request_id))
        return
    if batch.finalised_at is not None or batch.status in (
        CJBatchStatus.COMPLETED,
        CJBatchStatus.FAILED,
    ):
        RESULTS_IGNORED.labels("late").inc()
        _log.info("cj_result_after_end", request_id=str(result.request_id))
        return
    # Read under the batch lock: a concurrent copy of this result has committed or waits.
    shown = await repo.shown_comparison(result.request_id)
    if shown is None or shown.comparison.state is not ComparisonState.REQUESTED:
        RESULTS_IGNORED.labels("duplicate").inc()
        _log.info("cj_result_duplicate", request_id=str(result.request_id))
        return
    comparison = shown.comparison
    if (result.essay_a_id, result.essay_b_id) != shown.essay_ids:
        RESULTS_IGNORED.labels("mismatched").inc()
        _log.warning("cj_result_wrong_essays", request_id=str(result.request_id))
        return
    judge = f"{result.provider}/{result.model}"
    if result.error is not None:
        await _record_error(uow, repo, batch, comparison, result, judge, config)
    else:
        winner = (
            comparison.a_index if result.winner is ComparisonWinner.ESSAY_A else comparison.b_index
        )
        await repo.answer_comparison(
            comparison.request_id, ComparisonState.JUDGED, winner_index=winner, judge=judge
        )
        COMPARISONS_COMPLETED.inc()
    if await repo.outstanding(batch.batch_id) == 0:
        await _wave_done(uow, repo, batch, await repo.items(batch.batch_id), config)


async def _record_error(
    uow: UnitOfWork,
    repo: CJRepository,
    batch: BatchRow,
    comparison: ComparisonRow,
    result: LLMComparisonResult,
    judge: str,
    config: AssessmentConfig,
) -> None:
    code = result.error.code.value if result.error is not None else None
    if comparison.attempt <= config.max_error_retries:
        await repo.answer_comparison(
            comparison.request_id, ComparisonState.RETRIED, judge=judge, error_code=code
        )
        pair = ScheduledPair(comparison.a_index, comparison.b_index)
        items = await repo.items(batch.batch_id)
        await _request(
            uow, repo, batch, items, [pair], comparison.wave, config, attempt=comparison.attempt + 1
        )
        COMPARISONS_REQUESTED.labels("retry").inc()
        _log.info("cj_comparison_retried", request_id=str(comparison.request_id), error=code)
        return
    await repo.answer_comparison(
        comparison.request_id, ComparisonState.FAILED, judge=judge, error_code=code
    )
    COMPARISONS_FAILED.inc()
    _log.warning("cj_comparison_failed", request_id=str(comparison.request_id), error=code)


def _domain_comparisons(rows: list[ComparisonRow]) -> list[Comparison]:
    return [
        Comparison(row.a_index, row.b_index, row.winner_index, row.judge or "unknown")
        for row in rows
        if row.state is ComparisonState.JUDGED
    ]


async def _wave_done(
    uow: UnitOfWork,
    repo: CJRepository,
    batch: BatchRow,
    items: list[ItemRow],
    config: AssessmentConfig,
) -> None:
    """Refit, record the scores, and either send the next wave or end the batch."""
    state = CJBatchState(batch.status)
    scoring, _ = state.start_scoring()
    rows = await repo.comparisons(batch.batch_id)
    valid = _domain_comparisons(rows)
    history = await repo.score_history(batch.batch_id)
    previous = np.asarray(history[-1], dtype=np.float64) if history else None
    try:
        fit = fit_bradley_terry(len(items), valid, require_connected=False, initial_scores=previous)
    except ScalingError:
        _log.exception("cj_refit_failed")
        await _end(uow, repo, batch, items, rows, EndReason.NO_PAIRS_LEFT, config)
        return
    await repo.record_refit(batch.batch_id, batch.wave, len(valid), fit.scores.tolist())
    history.append(fit.scores.tolist())
    rule = config.stopping_rule(batch.comparison_budget)
    decision = decide_stop(
        len(items), valid, [np.asarray(s, dtype=np.float64) for s in history], rule
    )
    _log.info(
        "cj_wave_scored",
        wave=batch.wave,
        valid_comparisons=decision.valid_comparisons,
        target=decision.target,
        stop=decision.reason.value if decision.reason else None,
    )
    if decision.reason is not None:
        await _end(uow, repo, batch, items, rows, EndReason(decision.reason.value), config)
        return
    failed = sum(1 for row in rows if row.state is ComparisonState.FAILED)
    if failed >= max(decision.target, 1):
        await _end(uow, repo, batch, items, rows, EndReason.TOO_MANY_FAILED_COMPARISONS, config)
        return
    scheduled = [
        (row.a_index, row.b_index)
        for row in rows
        if row.state in (ComparisonState.JUDGED, ComparisonState.REQUESTED)
    ]
    wave = batch.wave + 1
    pairs = select_wave(
        len(items),
        scheduled,
        wave_rng(batch.batch_id, wave),
        estimate=fit,
        max_pairs=decision.target - decision.valid_comparisons,
    )
    if not pairs:
        await _end(uow, repo, batch, items, rows, EndReason.NO_PAIRS_LEFT, config)
        return
    collecting, _ = scoring.resume_collecting()
    await repo.update_batch(batch.batch_id, status=collecting.status)
    await _send_wave(uow, repo, batch, items, pairs, wave, config)


async def _send_wave(
    uow: UnitOfWork,
    repo: CJRepository,
    batch: BatchRow,
    items: list[ItemRow],
    pairs: list[ScheduledPair],
    wave: int,
    config: AssessmentConfig,
) -> None:
    await repo.update_batch(batch.batch_id, wave=wave)
    await _request(uow, repo, batch, items, pairs, wave, config, attempt=1)
    WAVES.inc()
    COMPARISONS_REQUESTED.labels("first").inc(len(pairs))
    _log.info("cj_wave_sent", wave=wave, pairs=len(pairs))


async def _request(
    uow: UnitOfWork,
    repo: CJRepository,
    batch: BatchRow,
    items: list[ItemRow],
    pairs: list[ScheduledPair],
    wave: int,
    config: AssessmentConfig,
    *,
    attempt: int,
) -> None:
    """One comparisons row and one outbox `LLMComparisonRequest` per pair."""
    prompt = ComparisonPrompt(
        assignment=batch.essay_instructions,
        criteria=config.criteria,
        instructions=config.instructions,
    )
    callback_topic = REGISTRY.spec_for_model(LLMComparisonResult).topic
    deadline = datetime.now(UTC) + config.request_deadline
    rows: list[dict[str, Any]] = []
    requests: list[LLMComparisonRequest] = []
    for pair in pairs:
        request_id = uuid.uuid4()
        first, second = items[pair.a_index], items[pair.b_index]
        rows.append(
            {
                "request_id": request_id,
                "batch_id": batch.batch_id,
                "wave": wave,
                "a_index": pair.a_index,
                "b_index": pair.b_index,
                "attempt": attempt,
                "state": ComparisonState.REQUESTED,
            }
        )
        requests.append(
            LLMComparisonRequest(
                request_id=request_id,
                batch_id=batch.batch_id,
                callback_topic=callback_topic,
                essay_a_id=first.essay_id,
                essay_a_text_id=first.text_id,
                essay_b_id=second.essay_id,
                essay_b_text_id=second.text_id,
                prompt=prompt,
                model_preference=config.model_preference,
                priority=config.priority,
                deadline=deadline,
            )
        )
    await uow.publish_many(requests, correlation_id=batch.correlation_id)
    await repo.insert_comparisons(rows)


# The end ----------------------------------------------------------------------------------


async def end_batch(
    uow: UnitOfWork, batch_id: UUID, reason: EndReason, config: AssessmentConfig
) -> bool:
    """End the batch with what it has (a trigger from outside the wave cycle).

    False, and nothing written, when the batch is unknown or already terminal.
    """
    repo = CJRepository(uow.session)
    batch = await repo.lock_batch(batch_id)
    if batch is None or CJBatchState(batch.status).is_terminal or batch.finalised_at is not None:
        return False
    items = await repo.items(batch_id)
    rows = await repo.comparisons(batch_id)
    return await _end(uow, repo, batch, items, rows, reason, config)


async def end_overdue_batch(uow: UnitOfWork, batch_id: UUID, config: AssessmentConfig) -> bool:
    """The monitor's end of a batch still open past its deadline; False if no longer so."""
    repo = CJRepository(uow.session)
    batch = await repo.lock_batch(batch_id)
    if batch is None or batch.finalised_at is not None or batch.deadline_at > datetime.now(UTC):
        return False
    return await end_batch(uow, batch_id, EndReason.DEADLINE_REACHED, config)


async def _end(
    uow: UnitOfWork,
    repo: CJRepository,
    batch: BatchRow,
    items: list[ItemRow],
    rows: list[ComparisonRow],
    reason: EndReason,
    config: AssessmentConfig,
) -> bool:
    """Rank and complete, or fail with why; a no-op (False) on a terminal batch."""
    state = CJBatchState(batch.status)
    if state.is_terminal or batch.finalised_at is not None:
        return False
    scale = None if batch.grade_scale is None else grade_scale(batch.grade_scale)
    rank_items = [RankItem(item.essay_id, item.is_anchor, item.anchor_grade) for item in items]
    try:
        ranking = rank_batch(rank_items, _domain_comparisons(rows), scale)
    except RankingFailedError as failure:
        message = failure.message
        if reason is EndReason.DEADLINE_REACHED:
            message = f"the batch reached its deadline: {message}"
        await _fail(uow, repo, batch, state, failure.code, message, reason, config)
        return True
    # The domain's lifecycle knows the stopping rule's reasons; the others end it all the same.
    stop = _STOP_REASONS.get(reason.value, StopReason.COMPARISON_TARGET_REACHED)
    completed, outcome = state.finalise(stop)
    if outcome is TransitionOutcome.ALREADY_FINAL:  # pragma: no cover - checked above
        return False
    await repo.abandon_outstanding(batch.batch_id)
    await _complete(uow, repo, batch, items, ranking, completed.status, reason)
    return True


async def _complete(
    uow: UnitOfWork,
    repo: CJRepository,
    batch: BatchRow,
    items: list[ItemRow],
    ranking: BatchRanking,
    status: CJBatchStatus,
    reason: EndReason,
) -> None:
    await repo.store_placements(
        batch.batch_id,
        [
            {
                "item_index": placed.item_index,
                "rank": placed.rank,
                "bt_score": placed.bt_score,
                "bt_standard_error": placed.bt_standard_error,
                "comparison_count": placed.comparison_count,
                "projected_grade": None if placed.grade is None else placed.grade.grade,
                "grade_probability": None if placed.grade is None else placed.grade.probability,
            }
            for placed in ranking.items
        ],
    )
    await repo.update_batch(
        batch.batch_id,
        status=status,
        finalised_at=datetime.now(UTC),
        end_reason=reason.value,
        comparisons_completed=ranking.valid_comparisons,
        diagnostics=ranking.diagnostics,
    )
    students = [item.essay_id for item in items if not item.is_anchor]
    await uow.publish(
        CJAssessmentCompleted(
            batch_id=batch.batch_id,
            assessed_essay_ids=students,
            comparisons_completed=ranking.valid_comparisons,
        ),
        correlation_id=batch.correlation_id,
    )
    await uow.publish(
        AssessmentResult(
            batch_id=batch.batch_id,
            essays=[
                EssayAssessmentResult(
                    essay_id=placed.essay_id,
                    is_anchor=placed.is_anchor,
                    rank=placed.rank,
                    bt_score=placed.bt_score,
                    bt_standard_error=placed.bt_standard_error,
                    comparison_count=placed.comparison_count,
                    grade_projection=(
                        None
                        if placed.grade is None
                        else GradeProjection(
                            grade=placed.grade.grade,
                            probability=min(1.0, max(0.0, placed.grade.probability)),
                        )
                    ),
                )
                for placed in ranking.items
            ],
            comparisons_completed=ranking.valid_comparisons,
            reliability=_unit_interval(ranking.diagnostics.get("reliability")),
        ),
        correlation_id=batch.correlation_id,
    )
    BATCHES_FINALISED.labels("completed", reason.value).inc()
    _log.info(
        "cj_batch_completed",
        reason=reason.value,
        comparisons=ranking.valid_comparisons,
        reliability=ranking.diagnostics.get("reliability"),
        ssr=ranking.diagnostics.get("ssr"),
    )


def _unit_interval(value: Any) -> float | None:
    """A diagnostic as a probability-like figure, or None when it is missing or not finite."""
    if not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return min(1.0, max(0.0, float(value)))


async def _fail(
    uow: UnitOfWork,
    repo: CJRepository,
    batch: BatchRow,
    state: CJBatchState,
    code: ErrorCode,
    message: str,
    reason: EndReason,
    config: AssessmentConfig,
) -> None:
    failed, outcome = state.fail(message)
    if outcome is TransitionOutcome.ALREADY_FINAL:  # pragma: no cover - checked by the caller
        return
    await repo.abandon_outstanding(batch.batch_id)
    await repo.update_batch(
        batch.batch_id,
        status=failed.status,
        finalised_at=datetime.now(UTC),
        end_reason=reason.value,
        failure_code=code.value,
        failure_message=message,
    )
    await uow.publish(
        CJAssessmentFailed(
            batch_id=batch.batch_id,
            error=ErrorDetail(
                code=code,
                message=message,
                service=config.service_name,
                operation="cj_assessment",
                correlation_id=batch.correlation_id,
                details={"end_reason": reason.value},
            ),
        ),
        correlation_id=batch.correlation_id,
    )
    BATCHES_FINALISED.labels("failed", reason.value).inc()
    _log.warning("cj_batch_failed", reason=reason.value, code=code.value, message=message)

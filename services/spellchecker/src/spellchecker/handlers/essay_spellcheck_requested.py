"""EssaySpellcheckRequested: read the text, correct it, store it, report the result.

The result is recorded with the job row and the outbox event in one transaction, so a
redelivered request (same event id) reports nothing twice. Text that cannot be read is the
essay's failure (reported); content_service being down is not, so it raises and is retried.
An essay in a language without a dictionary here (only English has one) is passed on
unchanged with no corrections, rather than "corrected" into English.
"""

from __future__ import annotations

from typing import Any

from common_core.errors import ErrorCode, ErrorDetail
from common_core.events.envelope import EventEnvelope
from common_core.events.spellcheck import (
    EssaySpellcheckRequested,
    SpellcheckCorrection,
    SpellcheckResult,
)
from huleedu_service_libs.content_client import (
    TEXT_MEDIA_TYPE,
    ContentClient,
    ContentRefusedError,
)
from huleedu_service_libs.database import UnitOfWork
from huleedu_service_libs.logging import get_logger
from spellchecker.domain.checker import Spellchecker
from spellchecker.repository import SpellcheckJobs

SERVICE_NAME = "spellchecker"
CHECKED_LANGUAGES = frozenset({"en"})
_log = get_logger(__name__)


async def handle_essay_spellcheck_requested(
    envelope: EventEnvelope[Any],
    uow: UnitOfWork,
    *,
    checker: Spellchecker,
    content: ContentClient,
) -> None:
    request = envelope.data
    if not isinstance(request, EssaySpellcheckRequested):
        raise TypeError(f"expected EssaySpellcheckRequested, got {type(request).__name__}")
    jobs = SpellcheckJobs(uow.session)
    if await jobs.exists(envelope.event_id):
        _log.info("spellcheck_already_reported", essay_id=str(request.essay_id))
        return
    result = await _spellcheck(request, envelope, checker, content)
    if await jobs.record(envelope.event_id, result):
        await uow.publish(result, correlation_id=envelope.correlation_id)
        _log.info(
            "spellcheck_reported",
            essay_id=str(request.essay_id),
            succeeded=result.succeeded,
            corrections=result.total_corrections,
        )


async def _spellcheck(
    request: EssaySpellcheckRequested,
    envelope: EventEnvelope[Any],
    checker: Spellchecker,
    content: ContentClient,
) -> SpellcheckResult:
    try:
        raw = await content.fetch(request.text_id, correlation_id=envelope.correlation_id)
    except ContentRefusedError as missing:
        return _failed(
            request,
            envelope,
            f"essay text {request.text_id} unavailable: {missing}",
            missing.status,
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return _failed(request, envelope, "essay text is not UTF-8", None)
    if request.language not in CHECKED_LANGUAGES:
        _log.warning(
            "spellcheck_language_unchecked",
            essay_id=str(request.essay_id),
            language=request.language,
        )
        return SpellcheckResult(
            batch_id=request.batch_id,
            essay_id=request.essay_id,
            original_text_id=request.text_id,
            corrected_text_id=request.text_id,
        )
    checked = checker.check(text)
    corrected_text_id = await content.store(
        checked.corrected.encode("utf-8"), TEXT_MEDIA_TYPE, correlation_id=envelope.correlation_id
    )
    return SpellcheckResult(
        batch_id=request.batch_id,
        essay_id=request.essay_id,
        original_text_id=request.text_id,
        corrected_text_id=corrected_text_id,
        error_counts=checked.error_counts,
        corrections=[
            SpellcheckCorrection(
                start=c.start,
                end=c.end,
                original=c.original,
                corrected=c.corrected,
                category=c.category,
            )
            for c in checked.corrections
        ],
    )


def _failed(
    request: EssaySpellcheckRequested,
    envelope: EventEnvelope[Any],
    message: str,
    status: int | None,
) -> SpellcheckResult:
    return SpellcheckResult(
        batch_id=request.batch_id,
        essay_id=request.essay_id,
        original_text_id=request.text_id,
        error=ErrorDetail(
            code=ErrorCode.CONTENT_UNAVAILABLE,
            message=message,
            service=SERVICE_NAME,
            operation="read_essay_text",
            correlation_id=envelope.correlation_id,
            details={} if status is None else {"content_service_status": status},
        ),
    )

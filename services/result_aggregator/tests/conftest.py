"""RAS on a migrated database of its own per test: a whole batch's story as events, the real
consumer-loop message path, and the views the API serves."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
import redis.asyncio as aioredis
from aiokafka import ConsumerRecord
from pydantic import BaseModel
from result_aggregator.domain.records import BatchFacts
from result_aggregator.models import essays, progress_log
from result_aggregator.recording import ProgressAnnouncer
from result_aggregator.repository import ReadModel
from result_aggregator.service import DEFINITION, consumed_handlers
from result_aggregator.settings import ResultAggregatorSettings
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from common_core.errors import ErrorCode, ErrorDetail
from common_core.events import REGISTRY
from common_core.events.base import EssayTextRef, FailedEssay
from common_core.events.batch import (
    BatchContentProvisioningCompleted,
    BatchEssaysReady,
    BatchEssaysRegistered,
)
from common_core.events.envelope import EventEnvelope
from common_core.events.essay import (
    EssaySlotAssigned,
    EssayValidationFailed,
    ExcessContentProvisioned,
)
from common_core.events.pipeline import (
    BatchCJAssessmentInitiateCommand,
    BatchPipelineCompleted,
    BatchSpellcheckInitiateCommand,
    ELSBatchPhaseOutcome,
    PhaseSummary,
)
from common_core.events.registry import encode
from common_core.events.results import AssessmentResult, EssayAssessmentResult, GradeProjection
from common_core.events.spellcheck import (
    CorrectionCategory,
    SpellcheckCorrection,
    SpellcheckResult,
)
from common_core.progress import ProgressEvent
from common_core.status import BatchStatus, PhaseName, PhaseStatus
from huleedu_service_libs.database import UnitOfWork, create_engine, create_session_factory
from huleedu_service_libs.idempotency import IdempotencyGuard
from huleedu_service_libs.kafka.consumer import ConsumerLoop, Outcome
from huleedu_service_libs.kafka.headers import kafka_headers
from huleedu_service_libs.kafka.producer import KafkaPublisher
from huleedu_service_libs.kafka.topics import TopicNamer
from huleedu_service_libs.migrations import upgrade_to_head
from huleedu_service_libs.outbox.writer import OutboxWriter

TEACHER = "teacher-1"
T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def text_id(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def envelope(data: BaseModel, source: str, second: int) -> EventEnvelope[Any]:
    """An envelope stamped at T0 + `second`, so timings are known in advance."""
    wrapped = REGISTRY.envelope(data, source_service=source)
    return wrapped.model_copy(update={"event_timestamp": T0 + timedelta(seconds=second)})


def spelling(start: int, original: str, corrected: str) -> SpellcheckCorrection:
    return SpellcheckCorrection(
        start=start,
        end=start + len(original),
        original=original,
        corrected=corrected,
        category=CorrectionCategory.SPELLING,
    )


@dataclass
class Story:
    """One batch from registration to a finished CJ pipeline, as the events that tell it.

    Four slots: three files accepted (`b.txt`, `a.txt`, `c.txt`), one rejected (`bad.pdf`)
    and one surplus file. Spellcheck corrects two essays and fails `c.txt`; CJ ranks the two
    with an anchor (grade A) at the top.
    """

    batch_id: UUID
    essay_ids: list[UUID]
    anchor_id: UUID
    events: list[EventEnvelope[Any]]
    user_id: str = TEACHER

    @property
    def upload_ids(self) -> list[UUID]:
        return [e.data.file_upload_id for e in self.events if hasattr(e.data, "file_upload_id")]


def story(user_id: str = TEACHER, *, pipeline: bool = True, start: int = 0) -> Story:
    """The batch's events; `start` shifts every timestamp by that many seconds."""

    def stamp(data: BaseModel, source: str, second: int) -> EventEnvelope[Any]:
        return envelope(data, source, start + second)

    batch_id = uuid.uuid4()
    ids = [uuid.uuid4() for _ in range(4)]
    anchor = uuid.uuid4()
    names = ["b.txt", "a.txt", "c.txt"]
    texts = [text_id(f"essay {n}") for n in names]
    corrected = [text_id(f"corrected {n}") for n in names]
    spell_error = ErrorDetail(
        code=ErrorCode.CONTENT_UNAVAILABLE, message="text gone", service="spellchecker"
    )
    bos, els, fs = "batch_orchestrator", "essay_lifecycle", "file_service"
    refs = [EssayTextRef(essay_id=ids[i], text_id=texts[i]) for i in range(3)]
    events = [
        stamp(
            BatchEssaysRegistered(
                batch_id=batch_id,
                user_id=user_id,
                expected_essay_count=4,
                essay_ids=ids,
                course_code="ENG5",
                language="en",
                essay_instructions="Write about the sea.",
                assignment_id="sea-1",
                title="The sea",
                class_id="9B",
            ),
            bos,
            0,
        ),
        stamp(
            EssayValidationFailed(
                batch_id=batch_id,
                file_upload_id=uuid.uuid4(),
                original_file_name="bad.pdf",
                reason=ErrorCode.ENCRYPTED_FILE,
                message="the PDF is password protected",
            ),
            fs,
            1,
        ),
        *(
            stamp(
                EssaySlotAssigned(
                    batch_id=batch_id,
                    essay_id=ids[i],
                    file_upload_id=uuid.uuid4(),
                    original_file_name=names[i],
                    text_id=texts[i],
                ),
                els,
                2,
            )
            for i in range(3)
        ),
        stamp(
            ExcessContentProvisioned(
                batch_id=batch_id,
                file_upload_id=uuid.uuid4(),
                original_file_name="surplus.txt",
                text_id=text_id("surplus"),
            ),
            els,
            3,
        ),
        stamp(
            BatchContentProvisioningCompleted(
                batch_id=batch_id, expected_essay_count=4, provisioned_count=3, failed_count=1
            ),
            els,
            4,
        ),
        stamp(
            BatchEssaysReady(
                batch_id=batch_id,
                ready_essays=refs,
                failed_essays=[
                    FailedEssay(
                        essay_id=ids[3],
                        error=ErrorDetail(
                            code=ErrorCode.ENCRYPTED_FILE,
                            message="the PDF is password protected",
                            service=els,
                        ),
                    )
                ],
            ),
            els,
            4,
        ),
    ]
    if pipeline:
        events += [
            stamp(
                BatchSpellcheckInitiateCommand(batch_id=batch_id, essays=refs, language="en"),
                bos,
                10,
            ),
            stamp(
                SpellcheckResult(
                    batch_id=batch_id,
                    essay_id=ids[0],
                    original_text_id=texts[0],
                    corrected_text_id=corrected[0],
                    error_counts={CorrectionCategory.SPELLING: 2},
                    corrections=[spelling(0, "Teh", "The"), spelling(8, "becouse", "because")],
                ),
                "spellchecker",
                11,
            ),
            stamp(
                SpellcheckResult(
                    batch_id=batch_id,
                    essay_id=ids[1],
                    original_text_id=texts[1],
                    corrected_text_id=corrected[1],
                    error_counts={CorrectionCategory.SPELLING: 1},
                    corrections=[spelling(3, "alot", "a lot")],
                ),
                "spellchecker",
                12,
            ),
            stamp(
                SpellcheckResult(
                    batch_id=batch_id,
                    essay_id=ids[2],
                    original_text_id=texts[2],
                    error=spell_error,
                ),
                "spellchecker",
                12,
            ),
            stamp(
                ELSBatchPhaseOutcome(
                    batch_id=batch_id,
                    phase=PhaseName.SPELLCHECK,
                    succeeded_essays=[
                        EssayTextRef(essay_id=ids[i], text_id=corrected[i]) for i in range(2)
                    ],
                    failed_essays=[FailedEssay(essay_id=ids[2], error=spell_error)],
                ),
                els,
                13,
            ),
            stamp(
                BatchCJAssessmentInitiateCommand(
                    batch_id=batch_id,
                    essays=[EssayTextRef(essay_id=ids[i], text_id=corrected[i]) for i in range(2)],
                    course_code="ENG5",
                    language="en",
                    essay_instructions="Write about the sea.",
                    assignment_id="sea-1",
                ),
                bos,
                14,
            ),
            stamp(
                AssessmentResult(
                    batch_id=batch_id,
                    comparisons_completed=3,
                    reliability=0.8,
                    essays=[
                        EssayAssessmentResult(
                            essay_id=anchor,
                            is_anchor=True,
                            rank=1,
                            bt_score=1.5,
                            bt_standard_error=0.4,
                            comparison_count=2,
                            grade_projection=GradeProjection(grade="A", probability=0.9),
                        ),
                        EssayAssessmentResult(
                            essay_id=ids[1],
                            is_anchor=False,
                            rank=2,
                            bt_score=0.5,
                            bt_standard_error=0.5,
                            comparison_count=2,
                            grade_projection=GradeProjection(grade="B", probability=0.6),
                        ),
                        EssayAssessmentResult(
                            essay_id=ids[0],
                            is_anchor=False,
                            rank=3,
                            bt_score=-2.0,
                            bt_standard_error=0.6,
                            comparison_count=2,
                            grade_projection=GradeProjection(grade="C", probability=0.7),
                        ),
                    ],
                ),
                "cj_assessment",
                20,
            ),
            stamp(
                ELSBatchPhaseOutcome(
                    batch_id=batch_id,
                    phase=PhaseName.CJ_ASSESSMENT,
                    succeeded_essays=[
                        EssayTextRef(essay_id=ids[i], text_id=corrected[i]) for i in range(2)
                    ],
                ),
                els,
                21,
            ),
            stamp(
                BatchPipelineCompleted(
                    batch_id=batch_id,
                    requested_pipeline=PhaseName.CJ_ASSESSMENT,
                    final_status=BatchStatus.COMPLETED_WITH_FAILURES,
                    phases=[
                        PhaseSummary(
                            phase=PhaseName.SPELLCHECK,
                            status=PhaseStatus.COMPLETED_WITH_FAILURES,
                            succeeded_count=2,
                            failed_count=1,
                        ),
                        PhaseSummary(
                            phase=PhaseName.CJ_ASSESSMENT,
                            status=PhaseStatus.COMPLETED,
                            succeeded_count=2,
                            failed_count=0,
                        ),
                    ],
                ),
                bos,
                22,
            ),
        ]
    return Story(batch_id=batch_id, essay_ids=ids, anchor_id=anchor, events=events)


class Ras:
    """The service's handlers on a migrated database, and what they left behind."""

    def __init__(
        self, settings: ResultAggregatorSettings, engine: AsyncEngine, redis: aioredis.Redis
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.sessions = create_session_factory(engine)
        self.outbox = OutboxWriter(
            REGISTRY, TopicNamer(settings.kafka_topic_prefix), settings.service_name
        )
        self.announcer = ProgressAnnouncer(redis, settings.kafka_topic_prefix)
        self.handlers = consumed_handlers(self.announcer)
        self.redis = redis

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.sessions, self.outbox)

    async def handle(self, event: EventEnvelope[Any]) -> None:
        """One event through its handler in a committed UnitOfWork of its own."""
        async with self.uow() as uow:
            await self.handlers[event.event_type](event, uow)
            await uow.commit()

    async def deliver(
        self, events: list[EventEnvelope[Any]], *, guard: bool = True
    ) -> dict[Outcome, int]:
        """The events through the real consumer-loop message path, in the given order."""
        loop = ConsumerLoop(
            self.settings,
            consumer_name=f"result_aggregator-{uuid.uuid4().hex[:8]}",
            registry=REGISTRY,
            handlers=self.handlers,
            sessions=self.sessions,
            outbox=self.outbox,
            guard=(
                IdempotencyGuard(self.redis, key_prefix=self.settings.redis_key_prefix)
                if guard
                else None
            ),
            publisher=KafkaPublisher(self.settings, REGISTRY),  # dead letters only: none expected
        )
        outcomes: dict[Outcome, int] = {}
        for offset, event in enumerate(events):
            outcome = await loop.process(record(self.settings, event, offset))
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        return outcomes

    async def facts(self, batch_id: UUID) -> BatchFacts:
        async with self.uow() as uow:
            model = ReadModel(uow.session)
            batch = await model.batch(batch_id)
            assert batch is not None
            return await model.facts(batch)

    async def progress(self, batch_id: UUID) -> list[ProgressEvent]:
        async with self.uow() as uow:
            return await ReadModel(uow.session).progress_after(batch_id, 0, 10_000)

    async def essay_rows(self, batch_id: UUID) -> int:
        async with self.engine.connect() as conn:
            statement = (
                select(func.count()).select_from(essays).where(essays.c.batch_id == batch_id)
            )
            return int((await conn.execute(statement)).scalar_one())

    async def seqs(self, batch_id: UUID) -> list[int]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(progress_log.c.seq)
                .where(progress_log.c.batch_id == batch_id)
                .order_by(progress_log.c.seq)
            )
            return [row[0] for row in rows]


def record(
    settings: ResultAggregatorSettings, event: EventEnvelope[Any], offset: int
) -> ConsumerRecord[bytes, bytes]:
    value = encode(event)
    key = str(event.data.batch_id).encode()
    spec = REGISTRY.spec(event.event_type)
    return ConsumerRecord(
        topic=f"{settings.kafka_topic_prefix}{spec.topic}",
        partition=0,
        offset=offset,
        timestamp=int(time.time() * 1000),
        timestamp_type=0,
        key=key,
        value=value,
        checksum=None,
        serialized_key_size=len(key),
        serialized_value_size=len(value),
        headers=[(k, v.encode()) for k, v in kafka_headers(event).items()],
    )


@pytest.fixture
def ras_settings(
    settings_factory, database_url: str, topic_prefix: str
) -> ResultAggregatorSettings:
    settings: ResultAggregatorSettings = settings_factory(
        "result_aggregator",
        database_url=database_url,
        settings_class=ResultAggregatorSettings,
        kafka_topic_prefix=f"{topic_prefix}{uuid.uuid4().hex[:8]}.",
    )
    return settings


@pytest.fixture
async def ras_factory(
    ras_settings: ResultAggregatorSettings, database_factory, redis_client: aioredis.Redis
) -> AsyncIterator[Callable[..., Awaitable[Ras]]]:
    """`await ras_factory()` → RAS on another fresh, migrated database (same topics)."""
    engines: list[AsyncEngine] = []

    async def make(database_url: str | None = None) -> Ras:
        if database_url is None:
            database_url = await database_factory(f"ras_{uuid.uuid4().hex[:12]}")
        settings = ras_settings.model_copy(update={"database_url": database_url})
        await upgrade_to_head(database_url, DEFINITION.migrations_path)
        engine = create_engine(database_url, pool_size=5)
        engines.append(engine)
        return Ras(settings, engine, redis_client)

    try:
        yield make
    finally:
        for engine in engines:
            await engine.dispose()


@pytest.fixture
async def ras(ras_factory, ras_settings: ResultAggregatorSettings) -> Ras:
    made: Ras = await ras_factory(ras_settings.database_url)
    return made

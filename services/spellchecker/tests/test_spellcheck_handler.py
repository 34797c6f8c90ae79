"""The EssaySpellcheckRequested handler against the real content_service and Postgres."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from aiokafka import ConsumerRecord
from spellchecker.domain.dictionary import english_spellchecker

from common_core.errors import ErrorCode
from common_core.events import REGISTRY
from common_core.events.envelope import EventEnvelope
from common_core.events.registry import encode
from common_core.events.spellcheck import CorrectionCategory, SpellcheckResult
from huleedu_service_libs.content_client import ContentServiceUnavailableError
from huleedu_service_libs.idempotency import IdempotencyGuard
from huleedu_service_libs.kafka.consumer import ConsumerLoop, Outcome
from huleedu_service_libs.kafka.headers import kafka_headers
from huleedu_service_libs.kafka.producer import KafkaPublisher

pytestmark = pytest.mark.integration

ESSAY = (Path(__file__).parents[3] / "sample" / "essays" / "essay_02.txt").read_text("utf-8")


def result_of(row: dict[str, Any]) -> SpellcheckResult:
    envelope = REGISTRY.decode(row["payload"])
    assert isinstance(envelope.data, SpellcheckResult)
    return envelope.data


async def test_the_corrected_text_is_stored_and_one_result_reported(
    spellchecker_factory, spellcheck_request
) -> None:
    async with spellchecker_factory() as checker:
        text_id = await checker.store(ESSAY)
        request = spellcheck_request(text_id)
        await checker.deliver(request)

        [row] = await checker.outbox_rows()
        result = result_of(row)
        assert row["event_type"] == REGISTRY.spec_for_model(SpellcheckResult).event_type
        assert REGISTRY.decode(row["payload"]).correlation_id == request.correlation_id
        assert (result.essay_id, result.batch_id) == (request.data.essay_id, request.data.batch_id)
        assert result.original_text_id == text_id
        assert result.error is None
        assert result.error_counts[CorrectionCategory.LEARNER_ERROR] >= 5
        assert ("becouse", "because") in {(c.original, c.corrected) for c in result.corrections}

        stored = await checker.fetch(str(result.corrected_text_id))
        assert stored.status_code == 200
        expected = english_spellchecker().check(ESSAY).corrected
        assert stored.content.decode("utf-8") == expected != ESSAY
        for correction in result.corrections:
            assert ESSAY[correction.start : correction.end] == correction.original

        [job] = await checker.jobs()
        assert job["status"] == "completed"
        assert job["corrected_text_id"] == result.corrected_text_id
        assert job["counts"] == {str(k): v for k, v in result.error_counts.items()}


async def test_an_essay_in_a_language_without_a_dictionary_passes_unchanged(
    spellchecker_factory, spellcheck_request
) -> None:
    swedish = "Min sommar i Skåne var lång och varm, och jag läste mycket varje dag."
    async with spellchecker_factory() as checker:
        text_id = await checker.store(swedish)
        await checker.deliver(spellcheck_request(text_id, language="sv"))

        [row] = await checker.outbox_rows()
        result = result_of(row)
        assert result.error is None
        assert result.corrected_text_id == text_id  # not "corrected" into English
        assert (result.corrections, result.error_counts) == ([], {})


async def test_missing_content_is_reported_as_the_essays_failure(
    spellchecker_factory, spellcheck_request
) -> None:
    never_stored = hashlib.sha256(uuid.uuid4().bytes).hexdigest()
    async with spellchecker_factory() as checker:
        await checker.deliver(spellcheck_request(never_stored))

        [row] = await checker.outbox_rows()
        result = result_of(row)
        assert result.corrected_text_id is None
        assert result.corrections == []
        assert result.error is not None
        assert result.error.code is ErrorCode.CONTENT_UNAVAILABLE
        assert never_stored in result.error.message
        [job] = await checker.jobs()
        assert job["status"] == "failed"
        assert job["error"]["code"] == "content_unavailable"


async def test_an_unreachable_content_service_raises_and_records_nothing(
    spellchecker_factory, spellcheck_request, closed_port_url
) -> None:
    async with spellchecker_factory(content_url=closed_port_url) as checker:
        with pytest.raises(ContentServiceUnavailableError):
            await checker.deliver(spellcheck_request("a" * 64))
        assert await checker.jobs() == []
        assert await checker.outbox_rows() == []


async def test_a_request_delivered_three_times_is_checked_and_reported_once(
    spellchecker_factory, spellcheck_request
) -> None:
    async with spellchecker_factory() as checker:
        request = spellcheck_request(await checker.store(ESSAY))
        for _ in range(3):
            await checker.deliver(request)
        assert len(await checker.jobs()) == 1
        [row] = await checker.outbox_rows()
        assert result_of(row).essay_id == request.data.essay_id


def record_of(
    topic: str, envelope: EventEnvelope[Any], offset: int
) -> ConsumerRecord[bytes, bytes]:
    value = encode(envelope)
    key = str(envelope.data.essay_id).encode()
    return ConsumerRecord(
        topic=topic,
        partition=0,
        offset=offset,
        timestamp=int(time.time() * 1000),
        timestamp_type=0,
        key=key,
        value=value,
        checksum=None,
        serialized_key_size=len(key),
        serialized_value_size=len(value),
        headers=[(k, v.encode()) for k, v in kafka_headers(envelope).items()],
    )


@pytest.mark.parametrize("guard", [True, False], ids=["guard", "inbox-only"])
async def test_the_consumer_loop_reports_a_thrice_delivered_request_once(
    spellchecker_factory, spellcheck_request, redis_client, guard: bool
) -> None:
    async with spellchecker_factory() as checker:
        requests = [spellcheck_request(await checker.store(ESSAY)) for _ in range(2)]
        loop = ConsumerLoop(
            checker.settings,
            consumer_name=f"spellchecker-{uuid.uuid4().hex[:8]}",
            registry=REGISTRY,
            handlers=checker.handlers,
            sessions=checker.sessions,
            outbox=checker.outbox,
            guard=(
                IdempotencyGuard(redis_client, key_prefix=checker.settings.redis_key_prefix)
                if guard
                else None
            ),
            publisher=KafkaPublisher(checker.settings, REGISTRY),  # dead letters only: none
        )
        topic = (
            checker.settings.kafka_topic_prefix
            + REGISTRY.spec_for_model(type(requests[0].data)).topic
        )
        outcomes: Counter[Outcome] = Counter()
        for offset, envelope in enumerate(requests * 3):
            outcomes[await loop.process(record_of(topic, envelope, offset))] += 1

        assert outcomes == {Outcome.HANDLED: 2, Outcome.DUPLICATE: 4}
        assert len(await checker.jobs()) == 2
        rows = await checker.outbox_rows()
        assert sorted(result_of(r).essay_id for r in rows) == sorted(
            r.data.essay_id for r in requests
        )
        # Deterministic: the same text gives the same corrected text id and corrections.
        first, second = (result_of(r) for r in rows)
        assert first.corrected_text_id == second.corrected_text_id
        assert first.corrections == second.corrections

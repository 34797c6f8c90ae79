"""A spellchecker worker killed mid-phase: after restart the phase completes, nothing twice."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Awaitable, Callable

import pytest
from aiokafka import AIOKafkaConsumer

from common_core.events import REGISTRY, SpellcheckResult
from huleedu_client import TeacherClient, UploadFile
from huleedu_service_libs.local_infra.platform import Platform

pytestmark = pytest.mark.functional

TeacherFactory = Callable[[str], Awaitable[TeacherClient]]
ESSAYS = 100
TEXT = (
    "Essay {n}. Many students bring there phones to school, and alot of teachers think it is "
    "a problem becouse the lessons are interrupted. A clear rule would definately help."
)


def spellchecked(status: dict[str, object]) -> int:
    essays = status["essays"]
    assert isinstance(essays, list)
    return sum(
        1 for e in essays for p in e["phases"] if p["phase"] == "spellcheck" and p["text_id"]
    )


async def results_on_topic(platform: Platform, batch_id: str) -> list[tuple[str, SpellcheckResult]]:
    """(event_id, result) of every record on the topic for the batch, republished copies too."""
    topic = platform.topic_prefix + REGISTRY.spec_for_model(SpellcheckResult).topic
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=platform.infra.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[tuple[str, SpellcheckResult]] = []
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=2000)
            if not batch:
                return found
            for records in batch.values():
                for record in records:
                    envelope = json.loads(record.value)
                    if envelope["data"]["batch_id"] == batch_id:
                        result = SpellcheckResult.model_validate(envelope["data"])
                        found.append((envelope["event_id"], result))
    finally:
        await consumer.stop()


async def test_killed_spellchecker_resumes_and_publishes_each_result_once(
    platform: Platform, teacher_factory: TeacherFactory
) -> None:
    teacher = await teacher_factory("teacher-crash")
    batch_id = str((await teacher.register_batch(ESSAYS, course_code="ENG5"))["batch_id"])
    files = [
        UploadFile(f"e{n:03}.txt", TEXT.format(n=n).encode(), "text/plain") for n in range(ESSAYS)
    ]
    await teacher.upload_files(batch_id, files)
    await teacher.wait_for_status(batch_id, ["ready"], within_s=120)

    await teacher.start_pipeline(batch_id, "spellcheck")
    for _ in range(600):
        if spellchecked(await teacher.batch_status(batch_id)) >= 5:
            break
        await asyncio.sleep(0.05)
    platform.kill("spellchecker", "worker")
    killed_at = spellchecked(await teacher.batch_status(batch_id))
    platform.respawn("spellchecker", "worker")

    status = await teacher.wait_for_status(
        batch_id, ["completed_successfully", "completed_with_failures", "failed"], within_s=180
    )
    assert status["status"] == "completed_successfully"
    assert spellchecked(status) == ESSAYS
    assert killed_at < ESSAYS, "the kill came after the phase had finished; nothing was tested"

    # A relay killed between the broker's ack and marking its row republishes that row with
    # the same event_id (consumers absorb it); what must never happen is a second result.
    records = await results_on_topic(platform, batch_id)
    distinct = {(event_id, result.essay_id) for event_id, result in records}
    results_per_essay = Counter(essay_id for _, essay_id in distinct)
    assert len(results_per_essay) == ESSAYS
    assert set(results_per_essay.values()) == {1}

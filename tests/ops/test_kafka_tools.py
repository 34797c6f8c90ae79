"""The topic bootstrap and the dead-letter replay, against the run's real broker."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from common_core.errors import ErrorCode
from common_core.events import REGISTRY, EssaySpellcheckRequested
from huleedu_service_libs.kafka.dead_letter import (
    DEAD_LETTER_CODE_HEADER,
    DEAD_LETTER_ERROR_HEADER,
    dead_letter_error,
    publish_dead_letter,
)
from huleedu_service_libs.kafka.dead_letter_depth import DeadLetterDepth
from huleedu_service_libs.kafka.producer import KafkaPublisher
from huleedu_service_libs.kafka.topics import DEAD_LETTER_SUFFIX, TopicNamer, ensure_topics
from tests.ops.conftest import ROOT, load_tool

bootstrap_topics = load_tool("bootstrap_topics")
replay_dead_letters = load_tool("replay_dead_letters")

TOPIC = REGISTRY.spec_for_model(EssaySpellcheckRequested).topic


def test_bootstrap_lists_exactly_the_registry_topics_and_their_dead_letter_topics() -> None:
    topics = bootstrap_topics.registry_topics(REGISTRY, TopicNamer("stage."))

    logical = [spec.topic for spec in REGISTRY]
    expected = {f"stage.{t}" for t in logical} | {f"stage.{t}{DEAD_LETTER_SUFFIX}" for t in logical}
    assert topics == sorted(expected)
    assert len(topics) == 2 * len(logical)


def test_bootstrap_cli_lists_topics_under_the_environment_prefix() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "bootstrap_topics.py"), "--list"],
        env={**os.environ, "KAFKA_TOPIC_PREFIX": "cli."},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )

    listed = result.stdout.split()
    assert listed == bootstrap_topics.registry_topics(REGISTRY, TopicNamer("cli."))


@pytest.mark.integration
async def test_bootstrap_creates_every_registry_topic_and_can_run_again(settings_factory) -> None:
    prefix = f"boot{uuid.uuid4().hex[:6]}."
    settings = settings_factory("bootstrap_topics", kafka_topic_prefix=prefix, kafka_partitions=1)

    created = await bootstrap_topics.bootstrap(settings)
    again = await bootstrap_topics.bootstrap(settings)

    existing = await _list_topics(settings.kafka_bootstrap_servers)
    assert created == again
    assert {t for t in existing if t.startswith(prefix)} == set(created)


@pytest.mark.integration
async def test_replay_sends_dead_letters_back_once_with_original_key_and_headers(
    settings_factory, topic_prefix
) -> None:
    settings = settings_factory(
        "replay_test", kafka_topic_prefix=f"{topic_prefix}replay{uuid.uuid4().hex[:6]}."
    )
    namer = TopicNamer(settings.kafka_topic_prefix)
    await ensure_topics(
        settings.kafka_bootstrap_servers,
        [namer.topic(TOPIC), namer.dead_letter(TOPIC)],
        partitions=2,
    )
    originals = [
        _record(namer.topic(TOPIC), key=f"batch-{i}", value=f'{{"n": {i}}}'.encode())
        for i in range(3)
    ]
    publisher = KafkaPublisher(settings, REGISTRY)
    await publisher.start()
    try:
        for record, code in zip(
            originals,
            [ErrorCode.HANDLER_FAILED, ErrorCode.HANDLER_FAILED, ErrorCode.MALFORMED_EVENT],
            strict=True,
        ):
            error = dead_letter_error(
                code, "boom", service="svc", consumer="svc", record=record, attempts=5
            )
            await publish_dead_letter(publisher, namer, TOPIC, record, error)
        # A record on the dead-letter topic without the error header is counted, not replayed.
        await (await publisher.send(namer.dead_letter(TOPIC), b"stray", key=None, headers={}))
    finally:
        await publisher.stop()

    assert await _waiting(settings) == 4
    dry = await replay_dead_letters.replay_topic(settings, TOPIC, dry_run=True)
    assert await _waiting(settings) == 4  # a dry run commits no progress
    first = await replay_dead_letters.replay_topic(settings, TOPIC)
    assert await _waiting(settings) == 0  # what the workers' dead-letter depth gauge reports
    second = await replay_dead_letters.replay_topic(settings, TOPIC)

    assert (dry.replayed, dry.codes) == (3, {"handler_failed": 2, "malformed_event": 1})
    assert (first.replayed, first.not_dead_letters) == (3, 1)
    assert first.codes == dry.codes
    assert second.replayed == 0
    replayed = await _read_all(settings.kafka_bootstrap_servers, namer.topic(TOPIC), expect=3)
    assert sorted((r.key, r.value) for r in replayed) == sorted((r.key, r.value) for r in originals)
    for record in replayed:
        headers = {name: value.decode() for name, value in record.headers}
        original = next(o for o in originals if o.key == record.key)
        assert headers == {
            **{n: v.decode() for n, v in original.headers},
            replay_dead_letters.REPLAYED_FROM_HEADER: namer.dead_letter(TOPIC),
        }
        assert DEAD_LETTER_ERROR_HEADER not in headers
        assert DEAD_LETTER_CODE_HEADER not in headers


async def _waiting(settings: Any) -> int:
    """The dead-letter depth a worker consuming TOPIC measures."""
    servers = settings.kafka_bootstrap_servers
    admin = AIOKafkaAdminClient(bootstrap_servers=servers)
    consumer = AIOKafkaConsumer(bootstrap_servers=servers, group_id=None)
    await admin.start()
    await consumer.start()
    try:
        return (await DeadLetterDepth(settings, [TOPIC]).measure(admin, consumer))[TOPIC]
    finally:
        await consumer.stop()
        await admin.close()


def _record(topic: str, *, key: str, value: bytes) -> Any:
    """The fields of a consumed record that dead-lettering reads."""
    return SimpleNamespace(
        topic=topic,
        partition=0,
        offset=0,
        key=key.encode(),
        value=value,
        headers=[("event_id", str(uuid.uuid4()).encode()), ("event_type", b"x.y")],
    )


async def _list_topics(bootstrap_servers: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        topics: list[str] = await admin.list_topics()
        return topics
    finally:
        await admin.close()


async def _read_all(bootstrap_servers: str, topic: str, *, expect: int) -> list[Any]:
    """Every record of `topic` from the beginning, waiting until `expect` have arrived."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, group_id=None)
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        records: list[Any] = []
        async with asyncio.timeout(30):
            while len(records) < expect:
                for batch in (await consumer.getmany(timeout_ms=500)).values():
                    records.extend(batch)
        extra = await consumer.getmany(timeout_ms=500)
        records.extend(r for batch in extra.values() for r in batch)
        return records
    finally:
        await consumer.stop()

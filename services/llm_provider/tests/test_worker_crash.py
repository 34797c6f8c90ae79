"""`python -m llm_provider worker` killed with SIGKILL mid-queue, then started again: every
request gets exactly one callback on the callback topic and none is left unanswered.

The worker is the real process (consumer loop, queue worker, outbox relay) reading its texts
from a real content_service. Every wait is bounded and fails with what was seen, the state of
the queue and the tail of the worker's log.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from aiokafka import AIOKafkaConsumer
from content_harness import running_content_service, store_text  # type: ignore[import-not-found]
from llm_provider.models import RequestState, comparison_requests
from llm_provider.service import DEFINITION
from llm_provider.settings import LLMProviderSettings
from lps_harness import comparison_request  # type: ignore[import-not-found]
from sqlalchemy import func, pool, select
from sqlalchemy.ext.asyncio import create_async_engine

from common_core.events import REGISTRY
from common_core.events.llm import LLMComparisonRequest, LLMComparisonResult
from huleedu_service_libs.kafka.producer import KafkaPublisher
from huleedu_service_libs.kafka.topics import TopicNamer, ensure_topics
from huleedu_service_libs.migrations import upgrade_to_head
from huleedu_service_libs.outbox import outbox_table

pytestmark = pytest.mark.integration

REQUESTS = 200
ESSAYS = sorted((Path(__file__).parents[3] / "sample" / "essays").glob("*.txt"))[:8]
# After a SIGKILL the restarted worker waits for three things: the dead member's session to
# time out before the group is rebalanced, the leases of the requests that were in flight
# (300 s by default; 3 s here) and the idempotency claims of events consumed but not yet
# confirmed (the guard's processing TTL, 60 s, not a setting): those events are consumed again
# only when it has run out, which makes the restart take a minute whatever is configured here.
WORKER_ENV = {
    "QUEUE_CONCURRENCY": "4",
    "QUEUE_LEASE_S": "3",
    "QUEUE_HOUSEKEEPING_INTERVAL_S": "0.5",
    "QUEUE_POP_TIMEOUT_S": "0.2",
    "KAFKA_SESSION_TIMEOUT_MS": "6000",
    "OUTBOX_POLL_INTERVAL_S": "0.2",
    "LOG_LEVEL": "INFO",
}
KILL_AFTER_CALLBACKS = 30
STARTED_WITHIN_S = 90.0
ANSWERED_WITHIN_S = 150.0
STOPPED_WITHIN_S = 30.0


@pytest.fixture
async def content_url(
    database_factory: Callable[[str], Awaitable[str]], settings_factory: Callable[..., Any]
) -> AsyncIterator[str]:
    async with running_content_service(database_factory, settings_factory) as url:
        yield url


class WorkerProcess:
    """The worker as a child process; its output goes to a log file the failures quote."""

    def __init__(self, settings: LLMProviderSettings, content_url: str, log: Path) -> None:
        self._env = {
            **os.environ,
            "SERVICE_NAME": "llm_provider",
            "ENVIRONMENT": "test",
            "DATABASE_URL": settings.database_url,
            "REDIS_URL": settings.redis_url,
            "REDIS_KEY_PREFIX": settings.redis_key_prefix,
            "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
            "KAFKA_TOPIC_PREFIX": settings.kafka_topic_prefix,
            "CONTENT_SERVICE_URL": content_url,
            "PYTHONUNBUFFERED": "1",
            **WORKER_ENV,
        }
        self._log = log
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self._log.open("ab") as log:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "llm_provider",
                "worker",
                env=self._env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )

    async def kill(self) -> None:
        process = self._require()
        process.send_signal(signal.SIGKILL)
        await asyncio.wait_for(process.wait(), timeout=STOPPED_WITHIN_S)

    async def stop(self) -> int:
        """SIGTERM and wait; SIGKILL if it does not stop in time. Returns the exit code."""
        process = self._require()
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), timeout=STOPPED_WITHIN_S)
            except TimeoutError:
                process.kill()
                await process.wait()
                raise AssertionError(f"worker ignored SIGTERM\n{self.tail()}") from None
        return int(process.returncode or 0)

    def exited(self) -> int | None:
        return self._require().returncode

    def tail(self, lines: int = 40) -> str:
        if not self._log.exists():
            return "(no worker log)"
        return "\n".join(self._log.read_text(errors="replace").splitlines()[-lines:])

    def _require(self) -> asyncio.subprocess.Process:
        assert self._process is not None, "the worker was not started"
        return self._process


class WorkerDatabase:
    """Reads the worker's database: request states and callbacks in its outbox."""

    def __init__(self, database_url: str) -> None:
        self._engine = create_async_engine(database_url, poolclass=pool.NullPool)

    async def states(self) -> Counter[str]:
        query = select(comparison_requests.c.state, func.count()).group_by(
            comparison_requests.c.state
        )
        async with self._engine.connect() as connection:
            return Counter({str(state): int(n) for state, n in await connection.execute(query)})

    async def callbacks(self) -> tuple[int, int]:
        """(callbacks in the outbox, of which published)."""
        query = select(func.count(), func.count(outbox_table.c.published_at))
        async with self._engine.connect() as connection:
            written, published = (await connection.execute(query)).one()
        return int(written), int(published)

    async def describe(self) -> str:
        written, published = await self.callbacks()
        return f"states {dict(await self.states())}, callbacks {written} ({published} published)"

    async def dispose(self) -> None:
        await self._engine.dispose()


async def wait_for(
    condition: Callable[[], Awaitable[bool]],
    *,
    within_s: float,
    what: str,
    worker: WorkerProcess,
    database: WorkerDatabase,
) -> None:
    """Poll `condition`; fail with the queue's state and the worker's log after `within_s`,
    or as soon as the worker exits on its own."""
    deadline = time.monotonic() + within_s
    while not await condition():
        exit_code = worker.exited()
        if exit_code is not None or time.monotonic() > deadline:
            reason = f"worker exited with {exit_code}" if exit_code is not None else "timed out"
            raise AssertionError(
                f"{reason} after {within_s:.0f}s waiting for {what}: "
                f"{await database.describe()}\n--- worker log ---\n{worker.tail()}"
            )
        await asyncio.sleep(0.02)


async def callbacks_on_topic(
    bootstrap_servers: str, topic: str, expected: set[UUID], *, within_s: float
) -> dict[UUID, set[str]]:
    """Event ids of every record on `topic` per request id: reads until every expected id was
    seen and the topic stayed quiet for 2 s (the dev broker's end offsets are not reliable)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: dict[UUID, set[str]] = defaultdict(set)
    deadline = time.monotonic() + within_s
    try:
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=2000)
            if not batch and expected <= found.keys():
                return found
            for records in batch.values():
                for record in records:
                    envelope = json.loads(record.value)
                    result = LLMComparisonResult.model_validate(envelope["data"])
                    found[result.request_id].add(envelope["event_id"])
    finally:
        await consumer.stop()
    missing = len(expected - found.keys())
    raise AssertionError(f"{missing} of {len(expected)} callbacks not on {topic} in {within_s}s")


async def publish(settings: LLMProviderSettings, requests: list[LLMComparisonRequest]) -> None:
    publisher = KafkaPublisher(settings, REGISTRY)
    await publisher.start()
    try:
        for request in requests:
            await publisher.publish(REGISTRY.envelope(request, source_service="cj_assessment"))
    finally:
        await publisher.stop()


async def test_a_worker_killed_mid_queue_answers_every_request_once_after_restart(
    lps_settings: LLMProviderSettings, content_url: str, tmp_path: Path
) -> None:
    settings = lps_settings
    await upgrade_to_head(settings.database_url, DEFINITION.migrations_path)
    text_ids = [await store_text(content_url, path.read_text("utf-8")) for path in ESSAYS]
    requests = [
        comparison_request(
            text_ids=(text_ids[n % len(text_ids)], text_ids[(n + 3) % len(text_ids)])
        )
        for n in range(REQUESTS)
    ]
    namer = TopicNamer(settings.kafka_topic_prefix)
    request_topic = namer.topic(REGISTRY.spec_for_model(LLMComparisonRequest).topic)
    callback_topic = namer.topic(REGISTRY.spec_for_model(LLMComparisonResult).topic)
    await ensure_topics(settings.kafka_bootstrap_servers, [request_topic, callback_topic])
    await publish(settings, requests)

    worker = WorkerProcess(settings, content_url, tmp_path / "llm_provider.worker.log")
    database = WorkerDatabase(settings.database_url)

    async def some_answered() -> bool:
        written, _ = await database.callbacks()
        return written >= KILL_AFTER_CALLBACKS

    async def all_answered_and_published() -> bool:
        states = await database.states()
        finished = states[RequestState.DONE] + states[RequestState.FAILED]
        written, published = await database.callbacks()
        return finished == REQUESTS and published == written

    try:
        await worker.start()
        await wait_for(
            some_answered,
            within_s=STARTED_WITHIN_S,
            what=f"{KILL_AFTER_CALLBACKS} callbacks",
            worker=worker,
            database=database,
        )
        await worker.kill()
        written_at_kill, _ = await database.callbacks()

        await worker.start()
        await wait_for(
            all_answered_and_published,
            within_s=ANSWERED_WITHIN_S,
            what=f"all {REQUESTS} requests answered and their callbacks published",
            worker=worker,
            database=database,
        )
        assert await worker.stop() == 0, worker.tail()
    finally:
        if worker.exited() is None:
            await worker.stop()
        final = await database.describe()
        final_states = await database.states()
        await database.dispose()

    assert written_at_kill < REQUESTS, f"killed after the queue was done: {final}"
    assert final_states == Counter({RequestState.DONE.value: REQUESTS}), final
    expected = {r.request_id for r in requests}
    found = await callbacks_on_topic(
        settings.kafka_bootstrap_servers, callback_topic, expected, within_s=60
    )
    # A relay killed between the broker's ack and marking its row republishes the row with
    # the same event id; a second callback for a request would have a second event id.
    assert found.keys() == expected
    duplicated = {request_id: ids for request_id, ids in found.items() if len(ids) != 1}
    assert not duplicated, f"requests with more than one callback: {duplicated}"

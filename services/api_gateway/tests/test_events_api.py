"""`GET /v1/batches/{id}/events` over real HTTP, with real Redis pub/sub, and a stand-in
result_aggregator serving the progress log over real HTTP.

The stand-in answers `GET /v1/batches/{id}/progress?after=&limit=` as result_aggregator does:
the teacher named by `X-User-ID` sees only their batches (404 otherwise).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import httpx
import pytest
import redis.asyncio as aioredis
from api_gateway.auth import issue_token
from api_gateway.service import build_app
from api_gateway.settings import GatewaySettings
from gateway_harness import SECRET  # type: ignore[import-not-found]
from quart import Blueprint, Quart, jsonify, request

from common_core.errors import ErrorCode
from common_core.progress import ProgressEvent
from huleedu_client import ApiError, ServerSentEvent, TeacherClient
from huleedu_service_libs import progress
from huleedu_service_libs.http import HttpError, create_app
from huleedu_service_libs.settings import ServiceSettings
from huleedu_service_libs.testing.services import closed_port_url, serve_app

pytestmark = pytest.mark.integration

STREAM_WAIT_S = 20.0


@dataclass
class ProgressLog:
    """The stand-in's state: each batch's owner and recorded events."""

    owners: dict[UUID, str] = field(default_factory=dict)
    events: dict[UUID, list[ProgressEvent]] = field(default_factory=dict)
    reads: int = 0

    def record(self, batch_id: UUID, kind: str, **data: Any) -> ProgressEvent:
        log = self.events.setdefault(batch_id, [])
        event = ProgressEvent(
            batch_id=batch_id, seq=len(log) + 1, kind=kind, at=datetime.now(UTC), data=data
        )
        log.append(event)
        return event

    def app(self) -> Quart:
        blueprint = Blueprint("progress", __name__)

        @blueprint.get("/v1/batches/<uuid:batch_id>/progress")
        async def read_progress(batch_id: UUID) -> Any:
            self.reads += 1
            if self.owners.get(batch_id) != request.headers.get("X-User-ID"):
                raise HttpError(404, ErrorCode.NOT_FOUND, "no such batch")
            after = int(request.args.get("after", 0))
            limit = int(request.args.get("limit", 500))
            page = [e for e in self.events.get(batch_id, []) if e.seq > after][:limit]
            return jsonify({"events": [e.model_dump(mode="json") for e in page]})

        return create_app(
            ServiceSettings(service_name="result_aggregator"),
            title="progress stand-in",
            blueprints=[blueprint],
        )


@dataclass(frozen=True)
class Stage:
    log: ProgressLog
    gateway_url: str
    settings: GatewaySettings
    redis: aioredis.Redis

    def teacher(self, teacher_id: str) -> TeacherClient:
        return TeacherClient(self.gateway_url, issue_token(teacher_id, SECRET, 300))

    def http(self, teacher_id: str) -> httpx.AsyncClient:
        token = issue_token(teacher_id, SECRET, 300)
        return httpx.AsyncClient(
            base_url=self.gateway_url,
            headers={"Authorization": f"Bearer {token}"},
            trust_env=False,
            timeout=STREAM_WAIT_S,
        )

    async def announce(self, event: ProgressEvent) -> None:
        await progress.announce(self.redis, self.settings.kafka_topic_prefix, event)

    def batch_of(self, teacher_id: str) -> UUID:
        batch_id = uuid.uuid4()
        self.log.owners[batch_id] = teacher_id
        return batch_id


@pytest.fixture
async def stage(
    gateway_settings_factory: Callable[..., GatewaySettings], redis_client: aioredis.Redis
) -> AsyncIterator[Stage]:
    log = ProgressLog()
    async with serve_app(log.app()) as ras_url:
        settings = gateway_settings_factory(
            result_aggregator_url=ras_url,
            progress_poll_seconds=0.2,
            progress_heartbeat_seconds=0.5,
        )
        async with serve_app(await build_app(settings)) as gateway_url:
            yield Stage(log, gateway_url, settings, redis_client)


async def collect(
    stream: AsyncIterator[ServerSentEvent | None], count: int
) -> list[ServerSentEvent]:
    received: list[ServerSentEvent] = []
    async with asyncio.timeout(STREAM_WAIT_S):
        async for sse in stream:
            if sse is not None:
                received.append(sse)
            if len(received) == count:
                break
    return received


async def subscribers(stage: Stage, batch_id: UUID) -> int:
    channel = progress.progress_channel(stage.settings.kafka_topic_prefix, batch_id)
    [(_, count)] = await stage.redis.pubsub_numsub(channel)
    return int(count)


async def wait_for_subscribers(stage: Stage, batch_id: UUID, expected: int) -> None:
    """Redis counts subscriptions asynchronously to the streams that open or close them."""
    async with asyncio.timeout(STREAM_WAIT_S):
        while True:
            if await subscribers(stage, batch_id) == expected:
                return
            await asyncio.sleep(0.05)


async def test_backlog_then_live_events_in_order_until_the_pipeline_completes(
    stage: Stage, teacher: str
) -> None:
    batch_id = stage.batch_of(teacher)
    for kind in ("batch.registered", "file.accepted", "batch.ready"):
        stage.log.record(batch_id, kind)
    async with stage.teacher(teacher) as client:
        stream = client.events(str(batch_id), until="pipeline.completed")
        backlog = await collect(stream, 3)
        assert [(e.seq, e.event) for e in backlog] == [
            (1, "batch.registered"),
            (2, "file.accepted"),
            (3, "batch.ready"),
        ]

        started = stage.log.record(batch_id, "phase.started", phase="spellcheck")
        await stage.announce(started)
        [live] = await collect(stream, 1)
        assert (live.seq, live.event, live.data["data"]) == (
            4,
            "phase.started",
            {"phase": "spellcheck"},
        )

        # Announced out of order and twice; one never announced: all arrive once, in order.
        essays = [stage.log.record(batch_id, "essay.spellchecked", n=n) for n in range(3)]
        await stage.announce(essays[2])
        await stage.announce(essays[0])
        await stage.announce(essays[0])
        completed = stage.log.record(batch_id, "pipeline.completed")
        await stage.announce(completed)
        rest = [sse async for sse in stream if sse is not None]
    assert [e.seq for e in rest] == [5, 6, 7, 8]
    assert rest[-1].event == "pipeline.completed"
    assert ProgressEvent.model_validate(rest[-1].data) == completed


async def test_reconnecting_with_last_event_id_resumes_after_it(stage: Stage, teacher: str) -> None:
    batch_id = stage.batch_of(teacher)
    for n in range(6):
        stage.log.record(batch_id, "essay.spellchecked", n=n)
    stage.log.record(batch_id, "pipeline.completed")
    async with stage.teacher(teacher) as client:
        resumed = [
            sse
            async for sse in client.events(str(batch_id), after=4, until="pipeline.completed")
            if sse is not None
        ]
    async with stage.http(teacher) as http:
        by_query = await http.get(
            f"/v1/batches/{batch_id}/events", params={"after": 6, "until": "pipeline.completed"}
        )
    assert [e.seq for e in resumed] == [5, 6, 7]
    assert by_query.status_code == 200
    assert by_query.headers["content-type"].startswith("text/event-stream")
    assert "id: 7\nevent: pipeline.completed\n" in by_query.text
    assert "id: 6\n" not in by_query.text


async def test_a_recorded_event_whose_announcement_was_lost_still_arrives(
    stage: Stage, teacher: str
) -> None:
    batch_id = stage.batch_of(teacher)
    async with (
        stage.teacher(teacher) as client,
        aclosing(client.events(str(batch_id), heartbeats=True)) as stream,
    ):
        await anext(stream)  # the stream is open (its first heartbeat) before anything exists
        stage.log.record(batch_id, "batch.registered")  # recorded, never announced
        [first] = await collect(stream, 1)
    assert (first.seq, first.event) == (1, "batch.registered")


async def test_a_silent_stream_sends_heartbeats_and_releases_its_subscription(
    stage: Stage, teacher: str
) -> None:
    batch_id = stage.batch_of(teacher)
    async with stage.teacher(teacher) as client:
        stream = client.events(str(batch_id), heartbeats=True)
        async with asyncio.timeout(STREAM_WAIT_S):
            assert await anext(stream) is None
            assert await anext(stream) is None
        assert await subscribers(stage, batch_id) == 1
        await stream.aclose()
    await wait_for_subscribers(stage, batch_id, 0)


async def test_every_replica_streams_the_same_batch(
    stage: Stage, teacher: str, gateway_settings_factory: Callable[..., GatewaySettings]
) -> None:
    """Nothing lives in one gateway's memory: a second replica serves the same teacher."""
    batch_id = stage.batch_of(teacher)
    async with serve_app(await build_app(stage.settings)) as second_url:
        token = issue_token(teacher, SECRET, 300)
        async with (
            TeacherClient(stage.gateway_url, token) as first,
            TeacherClient(second_url, token) as second,
        ):
            streams = [c.events(str(batch_id), until="pipeline.completed") for c in (first, second)]
            readers = [asyncio.create_task(collect(s, 2)) for s in streams]
            await wait_for_subscribers(stage, batch_id, 2)
            for kind in ("batch.registered", "pipeline.completed"):
                await stage.announce(stage.log.record(batch_id, kind))
            received = await asyncio.gather(*readers)
    assert [[e.seq for e in events] for events in received] == [[1, 2], [1, 2]]


async def test_another_teachers_batch_is_404_and_no_token_is_401(
    stage: Stage, teacher: str
) -> None:
    batch_id = stage.batch_of("someone-else")
    async with stage.teacher(teacher) as client:
        with pytest.raises(ApiError) as foreign:
            await anext(client.events(str(batch_id)))
    assert (foreign.value.status, foreign.value.code) == (404, "not_found")
    await wait_for_subscribers(stage, batch_id, 0)

    async with httpx.AsyncClient(base_url=stage.gateway_url, trust_env=False) as anonymous:
        response = await anonymous.get(f"/v1/batches/{batch_id}/events")
    assert (response.status_code, response.json()["code"]) == (401, "unauthorized")


@pytest.mark.parametrize("last_event_id", ["abc", "-1", "1.5"])
async def test_a_malformed_last_event_id_is_400(
    stage: Stage, teacher: str, last_event_id: str
) -> None:
    batch_id = stage.batch_of(teacher)
    async with stage.http(teacher) as http:
        response = await http.get(
            f"/v1/batches/{batch_id}/events", headers={"Last-Event-ID": last_event_id}
        )
    assert (response.status_code, response.json()["code"]) == (400, "validation_error")


async def test_result_aggregator_down_is_503(
    gateway_settings_factory: Callable[..., GatewaySettings], teacher: str
) -> None:
    settings = gateway_settings_factory(result_aggregator_url=closed_port_url())
    async with (
        serve_app(await build_app(settings)) as url,
        TeacherClient(url, issue_token(teacher, SECRET, 300)) as client,
    ):
        with pytest.raises(ApiError) as down:
            await anext(client.events(str(uuid.uuid4())))
    assert (down.value.status, down.value.code) == (503, "service_unavailable")

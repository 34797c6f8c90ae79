"""Live progress of one batch as server-sent events: `GET /v1/batches/{batch_id}/events`.

Authentication is the usual `Authorization: Bearer` header, never a token in the URL (URLs end
up in logs and browser history): the teacher's page reads the stream with `fetch`, not
`EventSource`, which cannot send headers. Any replica serves any teacher: the stream is built
from result_aggregator's log and Redis pub/sub, nothing kept in process memory.
"""

from __future__ import annotations

from uuid import UUID

import redis.asyncio as aioredis
from pydantic import BaseModel, Field
from quart import Blueprint, Response, request
from quart_schema import validate_querystring

from api_gateway.api.guard import documents_errors, protect, request_limit
from api_gateway.auth import AuthenticatedTeacher
from api_gateway.clients.result_aggregator import ResultAggregatorClient
from api_gateway.progress_stream import ProgressStream, StreamLimits
from api_gateway.settings import GatewaySettings
from common_core.errors import ErrorCode
from common_core.progress import ProgressEvent
from huleedu_service_libs import progress
from huleedu_service_libs.http import FromDishka, HttpError

LAST_EVENT_ID_HEADER = "Last-Event-ID"


class EventsQuery(BaseModel):
    after: int = Field(
        default=0,
        ge=0,
        description="Send events after this `seq` (the `Last-Event-ID` header wins when sent).",
    )
    until: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="End the stream after sending an event of this kind, e.g. "
        "`pipeline.completed`; without it the stream stays open.",
    )


def events_blueprint() -> Blueprint:
    blueprint = Blueprint("events", __name__, url_prefix="/v1/batches")
    protect(blueprint, request_limit, json_bodies=False)

    @blueprint.get("/<uuid:batch_id>/events")
    @validate_querystring(EventsQuery)
    @documents_errors(400, 404, 503)
    async def batch_events(
        batch_id: UUID,
        query_args: EventsQuery,
        teacher: FromDishka[AuthenticatedTeacher],
        results: FromDishka[ResultAggregatorClient],
        redis: FromDishka[aioredis.Redis],
        settings: FromDishka[GatewaySettings],
    ) -> Response:
        """The batch's progress as `text/event-stream`: each frame is `id: <seq>`,
        `event: <kind>`, `data: <ProgressEvent JSON>`; a `: keep-alive` comment after 15 s of
        silence. Resume with `Last-Event-ID` (or `?after=`): nothing is missed or repeated."""

        async def read_log(after: int) -> list[ProgressEvent]:
            return await results.progress(teacher.teacher_id, batch_id, after)

        stream = ProgressStream(
            progress.listen(
                redis, settings.kafka_topic_prefix, batch_id, poll_s=settings.progress_poll_seconds
            ),
            read_log,
            after=_resume_after(request.headers.get(LAST_EVENT_ID_HEADER), query_args.after),
            until=query_args.until,
            limits=StreamLimits(
                heartbeat_seconds=settings.progress_heartbeat_seconds,
                max_seconds=settings.progress_max_stream_seconds,
                retry_ms=settings.progress_retry_ms,
            ),
        )
        await stream.open()
        response = Response(
            stream.frames(),
            mimetype="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
        response.timeout = None  # the stream ends on its own terms, not Quart's 60 s default
        return response

    return blueprint


def _resume_after(last_event_id: str | None, after: int) -> int:
    """The `seq` to resume after: the header a reconnecting client sends, else `?after=`."""
    if last_event_id is None or not last_event_id.strip():
        return after
    try:
        seq = int(last_event_id.strip())
    except ValueError:
        seq = -1
    if seq < 0:
        raise HttpError(
            400,
            ErrorCode.VALIDATION_ERROR,
            "Last-Event-ID must be a non-negative integer (an event's seq)",
        )
    return seq

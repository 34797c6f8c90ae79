"""Minimal stand-ins for BOS, ELS and file_service that follow briefs/intake.md's contracts.

They keep their state in memory and share it (a registration creates ELS slots, an upload
fills them), so the gateway can be driven through whole flows without Kafka. They are built
with the platform's own app factory, so their errors are the same `ErrorDetail` bodies.
Every request they receive is recorded, so tests can check what the gateway forwarded.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field
from quart import Blueprint, Quart, Response, jsonify, request
from quart_schema import validate_querystring, validate_request

from common_core.errors import ErrorCode
from common_core.status import CLIENT_STATUS_FOR, BatchClientStatus, BatchStatus, EssayStatus
from huleedu_service_libs.http import HttpError, create_app, current_correlation_id
from huleedu_service_libs.settings import ServiceSettings


@dataclass
class Slot:
    essay_id: UUID
    status: EssayStatus = EssayStatus.AWAITING_CONTENT
    file_name: str | None = None
    file_upload_id: UUID | None = None
    failure: dict[str, str] | None = None


@dataclass
class Batch:
    batch_id: UUID
    user_id: str
    course_code: str
    title: str | None
    class_id: str | None
    expected_essay_count: int
    status: BatchStatus = BatchStatus.AWAITING_CONTENT
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    slots: list[Slot] = field(default_factory=list)
    excess: list[dict[str, Any]] = field(default_factory=list)

    def view(self) -> dict[str, Any]:
        return {
            "batch_id": str(self.batch_id),
            "user_id": self.user_id,
            "title": self.title,
            "course_code": self.course_code,
            "class_id": self.class_id,
            "status": self.status.value,
            "client_status": CLIENT_STATUS_FOR[self.status].value,
            "expected_essay_count": self.expected_essay_count,
            "provisioned_count": 0,
            "failed_count": 0,
            "excess_count": 0,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.created_at.isoformat(),
        }


@dataclass
class ReceivedRequest:
    service: str
    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, list[str]] = field(default_factory=dict)
    files: list[tuple[str, str, bytes]] = field(default_factory=list)
    """(field name, file name, bytes) of every uploaded part."""


class RegisterBody(BaseModel):
    user_id: str = Field(min_length=1, max_length=255)
    expected_essay_count: int = Field(strict=True, ge=1, le=500)
    course_code: str = Field(min_length=1, max_length=32)
    title: str | None = None
    essay_instructions: str | None = None
    class_id: str | None = None
    assignment_id: str | None = None


class ListQuery(BaseModel):
    user_id: str
    limit: int = Field(default=20, ge=1, le=100)
    offset: int = Field(default=0, ge=0)
    status: BatchClientStatus | None = None


@dataclass
class StandInPlatform:
    batches: dict[UUID, Batch] = field(default_factory=dict)
    received: list[ReceivedRequest] = field(default_factory=list)

    def requests_to(self, service: str) -> list[ReceivedRequest]:
        return [r for r in self.received if r.service == service]

    # --- apps -----------------------------------------------------------------------------

    def batch_orchestrator(self) -> Quart:
        blueprint = Blueprint("bos", __name__, url_prefix="/v1/batches")

        @blueprint.post("")
        @validate_request(RegisterBody)
        async def register(data: RegisterBody) -> tuple[dict[str, Any], int]:
            self._record("batch_orchestrator")
            batch = Batch(
                batch_id=uuid.uuid4(),
                user_id=data.user_id,
                course_code=data.course_code,
                title=data.title,
                class_id=data.class_id,
                expected_essay_count=data.expected_essay_count,
                slots=[Slot(uuid.uuid4()) for _ in range(data.expected_essay_count)],
            )
            self.batches[batch.batch_id] = batch
            return {
                "batch_id": str(batch.batch_id),
                "correlation_id": str(current_correlation_id()),
                "status": "pending_content",
            }, 202

        @blueprint.get("/<uuid:batch_id>")
        async def get_batch(batch_id: UUID) -> dict[str, Any]:
            self._record("batch_orchestrator")
            return self._batch(batch_id).view()

        @blueprint.get("")
        @validate_querystring(ListQuery)
        async def list_batches(query_args: ListQuery) -> dict[str, Any]:
            self._record("batch_orchestrator")
            owned = sorted(
                (
                    b
                    for b in self.batches.values()
                    if b.user_id == query_args.user_id
                    and (
                        query_args.status is None
                        or CLIENT_STATUS_FOR[b.status] == query_args.status
                    )
                ),
                key=lambda b: b.created_at,
                reverse=True,
            )
            page = owned[query_args.offset : query_args.offset + query_args.limit]
            return {
                "items": [b.view() for b in page],
                "total": len(owned),
                "limit": query_args.limit,
                "offset": query_args.offset,
            }

        return self._app("batch_orchestrator", blueprint)

    def essay_lifecycle(self) -> Quart:
        blueprint = Blueprint("els", __name__, url_prefix="/v1/batches")

        @blueprint.get("/<uuid:batch_id>/essays")
        async def essays(batch_id: UUID) -> dict[str, Any]:
            self._record("essay_lifecycle")
            batch = self._batch(batch_id)
            return {
                "batch_id": str(batch_id),
                "registered": True,
                "expected_essay_count": batch.expected_essay_count,
                "essays": [
                    {
                        "essay_id": str(slot.essay_id),
                        "status": slot.status.value,
                        "original_file_name": slot.file_name,
                        "file_upload_id": str(slot.file_upload_id) if slot.file_upload_id else None,
                        "text_id": None,
                        "failure": slot.failure,
                    }
                    for slot in batch.slots
                ],
                "excess": batch.excess,
                "pending_content": 0,
            }

        return self._app("essay_lifecycle", blueprint)

    def file_service(self) -> Quart:
        blueprint = Blueprint("files", __name__, url_prefix="/v1/files")

        @blueprint.post("/batch")
        async def upload() -> tuple[dict[str, Any], int]:
            received = self._record("file_service")
            form = await request.form
            files = await request.files
            received.form = {key: form.getlist(key) for key in form}
            for name in files:
                for file in files.getlist(name):
                    received.files.append((name, file.filename or "", file.read()))
            if not request.headers.get("X-User-ID"):
                raise HttpError(400, ErrorCode.VALIDATION_ERROR, "X-User-ID is required")
            batch = self._batch(UUID(form["batch_id"]))
            if len(received.files) > 5:
                raise HttpError(400, ErrorCode.TOO_MANY_FILES, "at most 5 files per request")
            outcomes = [self._provision(batch, name, data) for _, name, data in received.files]
            return {"batch_id": str(batch.batch_id), "files": outcomes}, 202

        return self._app("file_service", blueprint)

    # --- internals ------------------------------------------------------------------------

    def _provision(self, batch: Batch, file_name: str, data: bytes) -> dict[str, Any]:
        upload_id = uuid.uuid4()
        free = next((s for s in batch.slots if s.status == EssayStatus.AWAITING_CONTENT), None)
        if not data.strip():
            if free is not None:
                free.status = EssayStatus.VALIDATION_FAILED
                free.file_name, free.file_upload_id = file_name, upload_id
                free.failure = {"code": "empty_content", "message": "the file is empty"}
            return {
                "file_name": file_name,
                "file_upload_id": str(upload_id),
                "status": "rejected",
                "reason": "empty_content",
                "message": "the file is empty",
            }
        if free is None:
            batch.excess.append(
                {"file_upload_id": str(upload_id), "original_file_name": file_name, "text_id": None}
            )
        else:
            free.status = EssayStatus.CONTENT_PROVISIONED
            free.file_name, free.file_upload_id = file_name, upload_id
        if all(s.status != EssayStatus.AWAITING_CONTENT for s in batch.slots):
            batch.status = BatchStatus.READY
        return {
            "file_name": file_name,
            "file_upload_id": str(upload_id),
            "status": "accepted",
            "reason": None,
            "message": None,
        }

    def _batch(self, batch_id: UUID) -> Batch:
        batch = self.batches.get(batch_id)
        if batch is None:
            raise HttpError(404, ErrorCode.NOT_FOUND, "no such batch")
        return batch

    def _record(self, service: str) -> ReceivedRequest:
        received = ReceivedRequest(
            service=service,
            method=request.method,
            path=request.full_path,
            headers=dict(request.headers),
        )
        self.received.append(received)
        return received

    def _app(self, service: str, blueprint: Blueprint) -> Quart:
        app = create_app(
            ServiceSettings(service_name=service),
            title=f"{service} stand-in",
            blueprints=[blueprint],
        )
        app.config["MAX_CONTENT_LENGTH"] = None
        return app


def failing_app(status: int = 500, *, delay_s: float = 0.0) -> Quart:
    """An upstream that answers every API call with `status` and a non-ErrorDetail body,
    after `delay_s`."""
    blueprint = Blueprint("failing", __name__)

    @blueprint.route("/v1/<path:rest>", methods=["GET", "POST"])
    async def fail(rest: str) -> Response:
        await asyncio.sleep(delay_s)
        response = jsonify({"oops": rest})
        response.status_code = status
        return response

    return create_app(
        ServiceSettings(service_name="failing"), title="failing", blueprints=[blueprint]
    )

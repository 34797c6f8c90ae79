"""Minimal stand-ins for BOS, file_service, RAS, content_service and cj_assessment that speak
their services' HTTP contracts.

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
    text_id: str | None = None
    corrected_text_id: str | None = None
    rank: int | None = None
    grade: str | None = None
    corrections: list[dict[str, Any]] = field(default_factory=list)


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
    contents: dict[str, str] = field(default_factory=dict)
    """content_service's texts by content id."""
    assignments: dict[str, dict[str, Any]] = field(default_factory=dict)
    """cj_assessment's anchors by assignment id."""

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

    def cj_assessment(self) -> Quart:
        """Anchors per assignment, one grade scale each, owned by the teacher who began it."""
        blueprint = Blueprint("cj", __name__, url_prefix="/v1/assignments")

        @blueprint.post("/<assignment_id>/anchors")
        async def register(assignment_id: str) -> tuple[dict[str, Any], int]:
            self._record("cj_assessment")
            owner = request.headers.get("X-User-ID", "")
            body = await request.get_json()
            assignment = self.assignments.setdefault(
                assignment_id, {"owner": owner, "grade_scale": body["grade_scale"], "anchors": []}
            )
            if assignment["owner"] != owner:
                raise HttpError(403, ErrorCode.FORBIDDEN, "another teacher's assignment")
            if assignment["grade_scale"] != body["grade_scale"]:
                raise HttpError(409, ErrorCode.CONFLICT, "the assignment uses another scale")
            anchor = {
                "anchor_id": str(uuid.uuid4()),
                "assignment_id": assignment_id,
                "grade_scale": body["grade_scale"],
                "grade": body["grade"],
                "label": body["label"],
                "text_id": "0" * 64,
            }
            assignment["anchors"].append(anchor)
            return anchor, 201

        @blueprint.get("/<assignment_id>/anchors")
        async def anchors(assignment_id: str) -> dict[str, Any]:
            self._record("cj_assessment")
            assignment = self.assignments.get(assignment_id)
            if assignment and assignment["owner"] != request.headers.get("X-User-ID", ""):
                raise HttpError(403, ErrorCode.FORBIDDEN, "another teacher's assignment")
            return {
                "assignment_id": assignment_id,
                "grade_scale": assignment["grade_scale"] if assignment else None,
                "anchors": assignment["anchors"] if assignment else [],
            }

        return self._app("cj_assessment", blueprint)

    def result_aggregator(self) -> Quart:
        """RAS as if it had folded every event already: views built from the shared state."""
        blueprint = Blueprint("ras", __name__, url_prefix="/v1/batches")

        @blueprint.get("")
        async def list_batches() -> dict[str, Any]:
            self._record("result_aggregator")
            user_id = request.headers.get("X-User-ID")
            wanted = request.args.get("status")
            owned = sorted(
                (
                    b
                    for b in self.batches.values()
                    if b.user_id == user_id
                    and (wanted is None or CLIENT_STATUS_FOR[b.status].value == wanted)
                ),
                key=lambda b: b.created_at,
                reverse=True,
            )
            limit, offset = int(request.args["limit"]), int(request.args["offset"])
            return {
                "items": [
                    {
                        k: v
                        for k, v in {**b.view(), **self._counts(b, flat=True)}.items()
                        if k not in ("user_id", "client_status")
                    }
                    # RAS learns no title from the events (yet): it lists none.
                    | {"status": CLIENT_STATUS_FOR[b.status].value, "title": None}
                    for b in owned[offset : offset + limit]
                ],
                "total": len(owned),
                "limit": limit,
                "offset": offset,
            }

        @blueprint.get("/<uuid:batch_id>")
        async def status(batch_id: UUID) -> dict[str, Any]:
            batch = self._owned(batch_id)
            return {
                "batch_id": str(batch_id),
                "status": CLIENT_STATUS_FOR[batch.status].value,
                "title": None,
                "course_code": batch.course_code,
                "counts": self._counts(batch, flat=False),
                "essays": [
                    {
                        "essay_id": str(slot.essay_id),
                        "file_name": slot.file_name,
                        "status": slot.status.value,
                        "failure": slot.failure,
                        "phases": [],
                    }
                    for slot in batch.slots
                ],
                "excess_files": [
                    {"file_upload_id": e["file_upload_id"], "file_name": e["original_file_name"]}
                    for e in batch.excess
                ],
            }

        @blueprint.get("/<uuid:batch_id>/results")
        async def results(batch_id: UUID) -> Response:
            batch = self._owned(batch_id)
            if "text/csv" in request.headers.get("Accept", ""):
                rows = ["rank,file_name,grade"] + [
                    f"{s.rank or ''},{s.file_name},{s.grade or ''}"
                    for s in sorted(batch.slots, key=lambda s: (s.rank is None, s.rank or 0))
                ]
                return Response(
                    "\r\n".join(rows) + "\r\n",
                    content_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="r-{batch_id}.csv"'},
                )
            return jsonify(
                {
                    "batch_id": str(batch_id),
                    "status": CLIENT_STATUS_FOR[batch.status].value,
                    "title": None,
                    "course_code": batch.course_code,
                    "timings": {"phases": []},
                    "essays": [self._essay(s) for s in batch.slots],
                    "anchors": [],
                    "excess_files": [],
                }
            )

        @blueprint.get("/<uuid:batch_id>/essays/<uuid:essay_id>")
        async def essay(batch_id: UUID, essay_id: UUID) -> dict[str, Any]:
            batch = self._owned(batch_id)
            slot = next((s for s in batch.slots if s.essay_id == essay_id), None)
            if slot is None:
                raise HttpError(404, ErrorCode.NOT_FOUND, "no such essay in this batch")
            return {**self._essay(slot), "corrections": slot.corrections}

        @blueprint.get("/<uuid:batch_id>/progress")
        async def progress(batch_id: UUID) -> dict[str, Any]:
            self._owned(batch_id)
            return {"events": []}

        return self._app("result_aggregator", blueprint)

    def content_service(self) -> Quart:
        blueprint = Blueprint("content", __name__, url_prefix="/v1/content")

        @blueprint.get("/<content_id>")
        async def fetch(content_id: str) -> Response:
            self._record("content_service")
            if content_id not in self.contents:
                raise HttpError(404, ErrorCode.NOT_FOUND, "no such content")
            return Response(self.contents[content_id], content_type="text/plain; charset=utf-8")

        return self._app("content_service", blueprint)

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

    def _owned(self, batch_id: UUID) -> Batch:
        """RAS's ownership rule: another teacher's batch reads as no batch."""
        self._record("result_aggregator")
        batch = self.batches.get(batch_id)
        if batch is None or batch.user_id != request.headers.get("X-User-ID"):
            raise HttpError(404, ErrorCode.NOT_FOUND, "no such batch")
        return batch

    @staticmethod
    def _counts(batch: Batch, *, flat: bool) -> dict[str, int]:
        failed = sum(1 for s in batch.slots if s.status == EssayStatus.VALIDATION_FAILED)
        provisioned = sum(
            1
            for s in batch.slots
            if s.status not in (EssayStatus.AWAITING_CONTENT, EssayStatus.VALIDATION_FAILED)
        )
        counts = {
            "expected": batch.expected_essay_count,
            "provisioned": provisioned,
            "failed": failed,
            "excess": len(batch.excess),
        }
        if not flat:
            return counts
        return {
            "expected_essay_count": counts["expected"],
            "provisioned_count": provisioned,
            "failed_count": failed,
            "excess_count": counts["excess"],
        }

    @staticmethod
    def _essay(slot: Slot) -> dict[str, Any]:
        return {
            "essay_id": str(slot.essay_id),
            "file_name": slot.file_name,
            "status": slot.status.value,
            "original_text_id": slot.text_id,
            "corrected_text_id": slot.corrected_text_id,
            "rank": slot.rank,
            "grade": slot.grade,
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

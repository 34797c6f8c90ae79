"""HTTP API: `POST /v1/files/batch` takes a batch's uploaded files, one outcome per file.

Only the gateway calls it, after checking that the teacher (`X-User-ID`) owns the batch.
Request-level problems are answered before any file is read (400 too many files, 413 request
too large, 404 unknown batch, 409 batch closed); after that every file gets its own outcome
and its own event, and the outcomes and events are committed together or not at all.

A request with an `Idempotency-Key` header is done once per teacher and key: a retry (the
first answer was lost on the way back) gets the first answer again and records nothing; the
key reused for other files is refused with `idempotency_key_reused`.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from typing import Annotated, Any, cast
from uuid import UUID

from pydantic import BaseModel, BeforeValidator, Field
from quart import Blueprint, Quart, request
from quart_schema import DataSource, validate_request, validate_response
from quart_schema.pydantic import File

from common_core.errors import ErrorCode, FileValidationErrorCode
from common_core.events.envelope import EventMetadata
from file_service.bos_client import (
    ACCEPTING_CONTENT,
    BatchOrchestratorClient,
    BatchOrchestratorUnavailableError,
)
from file_service.domain.file_names import clean_file_name
from file_service.intake import FileIntake, ProcessedFile, UploadedFile
from file_service.models import UploadOutcome
from file_service.repository import RememberedUpload, UploadRepository
from file_service.settings import FileSettings
from huleedu_service_libs.content_client import ContentServiceUnavailableError
from huleedu_service_libs.database import UnitOfWork
from huleedu_service_libs.http import (
    MAX_USER_ID_LENGTH,
    USER_ID_HEADER,
    FromDishka,
    HttpError,
    acting_user_id,
    current_correlation_id,
    inject,
)
from huleedu_service_libs.logging import get_logger, traceparent_for_current_context
from huleedu_service_libs.settings import ServiceSettings

IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,128}$")
# An oversized body up to this multiple of the limit is read and dropped before the 413: a
# server that answers and closes with unread bytes resets the connection, and the client then
# sees the reset instead of the answer. Anything larger is cut off regardless.
DRAINED_OVERSIZE_FACTOR = 2

_log = get_logger(__name__)


def _one_or_many(value: Any) -> Any:
    """quart-schema hands over a lone part as itself and repeated parts as a list."""
    return value if isinstance(value, list) else [value]


class FileBatchUpload(BaseModel):
    """`multipart/form-data`: the batch id and one `files` part per essay file."""

    batch_id: UUID = Field(description="The batch the files belong to.")
    files: Annotated[list[File], BeforeValidator(_one_or_many)] = Field(
        min_length=1, description="The essay files (.txt, .docx, .pdf), one part each."
    )


class FileOutcomeView(BaseModel):
    file_name: str = Field(description="File name as uploaded (base name, cleaned).")
    file_upload_id: UUID = Field(description="Identity of this uploaded file from now on.")
    status: UploadOutcome
    reason: FileValidationErrorCode | None = Field(
        default=None, description="Why the file was rejected."
    )
    message: str | None = Field(default=None, description="What the teacher can do about it.")


class FileBatchUploadResponse(BaseModel):
    batch_id: UUID
    files: list[FileOutcomeView] = Field(description="One entry per uploaded file, in order.")


def files_blueprint() -> Blueprint:
    blueprint = Blueprint("files", __name__, url_prefix="/v1/files")

    @inject
    async def refuse_oversized_request(settings: FromDishka[FileSettings]) -> None:
        """A declared length over the limit is refused without parsing or storing the body."""
        length = request.content_length
        if length is not None and length > settings.max_request_bytes:
            if length <= settings.max_request_bytes * DRAINED_OVERSIZE_FACTOR:
                await _discard_body()
            raise _request_too_large(settings)

    # `inject` resolves `settings` at run time, so Quart calls the hook without arguments.
    blueprint.before_request(cast(Callable[[], Awaitable[None]], refuse_oversized_request))

    @blueprint.post("/batch")
    @validate_request(FileBatchUpload, source=DataSource.FORM_MULTIPART)
    @validate_response(FileBatchUploadResponse, 202)
    async def upload_batch(
        data: FileBatchUpload,
        settings: FromDishka[FileSettings],
        batches: FromDishka[BatchOrchestratorClient],
        intake: FromDishka[FileIntake],
        uow: FromDishka[UnitOfWork],
    ) -> tuple[FileBatchUploadResponse, int, dict[str, str]]:
        user_id = _user_id()
        idempotency_key = _idempotency_key()
        if len(data.files) > settings.max_files_per_request:
            raise HttpError(
                400,
                ErrorCode.TOO_MANY_FILES,
                f"{len(data.files)} files in one request; at most "
                f"{settings.max_files_per_request} are allowed. Upload them in several requests.",
                {"files": len(data.files), "max_files": settings.max_files_per_request},
            )
        uploaded = [
            UploadedFile(file_name=clean_file_name(part.filename), data=part.read())
            for part in data.files
        ]
        if sum(len(file.data) for file in uploaded) > settings.max_request_bytes:
            raise _request_too_large(settings)  # a body sent without a declared length
        fingerprint = upload_fingerprint(data.batch_id, uploaded)
        if idempotency_key is not None:
            earlier = await _remembered(uow, user_id, idempotency_key)
            if earlier is not None:
                return _replay(earlier, data.batch_id, fingerprint)

        await _require_batch_accepting_content(batches, data.batch_id, user_id)
        try:
            processed = await intake.process(uploaded)
        except ContentServiceUnavailableError as error:
            _log.error("upload_not_stored", batch_id=str(data.batch_id), error=str(error))
            raise HttpError(
                503,
                ErrorCode.SERVICE_UNAVAILABLE,
                "File storage is unavailable; nothing was recorded. Try the upload again.",
            ) from error
        answer = FileBatchUploadResponse(
            batch_id=data.batch_id, files=[_view(file) for file in processed]
        )
        remember = None if idempotency_key is None else (idempotency_key, fingerprint, answer)
        if not await _record(uow, data.batch_id, user_id, processed, remember=remember):
            # A concurrent request with the same key committed first: its answer stands.
            earlier = await _remembered(uow, user_id, str(idempotency_key))
            if earlier is None:
                raise RuntimeError("an idempotency key lost its race but has no answer")
            return _replay(earlier, data.batch_id, fingerprint)
        _log.info(
            "files_uploaded",
            batch_id=str(data.batch_id),
            accepted=sum(1 for file in processed if file.rejection is None),
            rejected=sum(1 for file in processed if file.rejection is not None),
        )
        return answer, 202, {}

    return blueprint


def configure_body_limit(app: Quart, settings: ServiceSettings) -> None:
    """Quart's body limit follows the settings (its 16 MB default would pre-empt them).

    It sits at DRAINED_OVERSIZE_FACTOR x the request limit so that `refuse_oversized_request`
    can still read and drop a moderately oversized body; a body sent without a declared length
    is held to the request limit by the view, after parsing.
    """
    if not isinstance(settings, FileSettings):
        raise TypeError("file_service needs FileSettings")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes * DRAINED_OVERSIZE_FACTOR


def _user_id() -> str:
    user_id = acting_user_id()
    if user_id is None:
        raise HttpError(
            400,
            ErrorCode.VALIDATION_ERROR,
            f"header {USER_ID_HEADER} must name the teacher (1..{MAX_USER_ID_LENGTH} characters)",
        )
    return user_id


def _idempotency_key() -> str | None:
    key = request.headers.get(IDEMPOTENCY_KEY_HEADER)
    if key is None:
        return None
    if not _IDEMPOTENCY_KEY.match(key):
        raise HttpError(
            400,
            ErrorCode.VALIDATION_ERROR,
            f"header {IDEMPOTENCY_KEY_HEADER} must be 1..128 visible ASCII characters",
        )
    return key


def upload_fingerprint(batch_id: UUID, files: Sequence[UploadedFile]) -> str:
    """What makes two requests the same upload: the batch and each file's name and bytes."""
    digest = hashlib.sha256(batch_id.bytes)
    for file in files:
        digest.update(hashlib.sha256(file.file_name.encode()).digest())
        digest.update(hashlib.sha256(file.data).digest())
    return digest.hexdigest()


async def _remembered(uow: UnitOfWork, user_id: str, key: str) -> RememberedUpload | None:
    async with uow:
        return await UploadRepository(uow.session).remembered(user_id, key)


def _replay(
    earlier: RememberedUpload, batch_id: UUID, fingerprint: str
) -> tuple[FileBatchUploadResponse, int, dict[str, str]]:
    if earlier.batch_id != batch_id or earlier.fingerprint != fingerprint:
        raise HttpError(
            422,
            ErrorCode.IDEMPOTENCY_KEY_REUSED,
            f"This {IDEMPOTENCY_KEY_HEADER} was used for a different upload; "
            "use a new key for new files.",
        )
    return FileBatchUploadResponse.model_validate(earlier.response), 202, {REPLAYED_HEADER: "true"}


async def _discard_body() -> None:
    with suppress(TimeoutError):
        async with asyncio.timeout(request.body_timeout or None):
            async for _chunk in request.body:
                pass


def _request_too_large(settings: FileSettings) -> HttpError:
    return HttpError(
        413,
        ErrorCode.PAYLOAD_TOO_LARGE,
        f"The upload is larger than {settings.max_request_bytes} bytes; "
        "upload the files in several requests.",
        {"max_request_bytes": settings.max_request_bytes},
    )


async def _require_batch_accepting_content(
    batches: BatchOrchestratorClient, batch_id: UUID, user_id: str
) -> None:
    try:
        batch = await batches.get_batch(batch_id)
    except BatchOrchestratorUnavailableError as error:
        raise HttpError(
            503,
            ErrorCode.SERVICE_UNAVAILABLE,
            "The batch cannot be checked right now; nothing was recorded. Try again.",
        ) from error
    # Another teacher's batch is reported like a missing one, so ids cannot be probed.
    if batch is None or batch.user_id != user_id:
        raise HttpError(404, ErrorCode.NOT_FOUND, f"batch {batch_id} not found")
    if not batch.accepts_content:
        raise HttpError(
            409,
            ErrorCode.BATCH_NOT_ACCEPTING_CONTENT,
            f"Batch {batch_id} is {batch.status.value} and no longer accepts files.",
            {
                "status": batch.status.value,
                "accepting_statuses": sorted(status.value for status in ACCEPTING_CONTENT),
            },
        )


async def _record(
    uow: UnitOfWork,
    batch_id: UUID,
    user_id: str,
    processed: list[ProcessedFile],
    *,
    remember: tuple[str, str, FileBatchUploadResponse] | None,
) -> bool:
    """Every file's row and its one event, and the answer to replay, in one transaction.

    False (and nothing recorded) when a concurrent request under the same key came first.
    """
    correlation_id = current_correlation_id()
    metadata = EventMetadata(traceparent=traceparent_for_current_context())
    async with uow:
        repository = UploadRepository(uow.session)
        if remember is not None:
            key, fingerprint, answer = remember
            if not await repository.remember(
                user_id=user_id,
                idempotency_key=key,
                batch_id=batch_id,
                fingerprint=fingerprint,
                response=answer.model_dump(mode="json"),
            ):
                return False
        await repository.record(
            batch_id=batch_id, user_id=user_id, correlation_id=correlation_id, files=processed
        )
        for file in processed:
            await uow.publish(
                file.event(batch_id), correlation_id=correlation_id, metadata=metadata
            )
        await uow.commit()
    return True


def _view(file: ProcessedFile) -> FileOutcomeView:
    return FileOutcomeView(
        file_name=file.file_name,
        file_upload_id=file.file_upload_id,
        status=file.outcome,
        reason=file.rejection.code if file.rejection else None,
        message=file.rejection.message if file.rejection else None,
    )

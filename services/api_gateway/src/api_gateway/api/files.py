"""Uploads: the gateway checks the batch is the teacher's, then forwards the files as they came."""

from __future__ import annotations

from pydantic import ValidationError
from quart import Blueprint, request
from quart_schema import (
    DataSource,
    RequestSchemaValidationError,
    document_request,
    validate_response,
)

from api_gateway.api.guard import documents_errors, owned_batch, protect, upload_limits
from api_gateway.auth import AuthenticatedTeacher
from api_gateway.clients import BatchOrchestratorClient, FileServiceClient
from api_gateway.clients.file_service import IDEMPOTENCY_KEY_HEADER, REPLAYED_HEADER
from api_gateway.models import UploadAccepted, UploadForm
from huleedu_service_libs.http import FromDishka

FILE_FIELDS = ("files", "files[]")
"""`files` repeated is the contract; `files[]` is what some form libraries send for it."""


def files_blueprint() -> Blueprint:
    blueprint = Blueprint("files", __name__, url_prefix="/v1/files")
    protect(blueprint, upload_limits, json_bodies=False)

    @blueprint.post("/batch")
    @document_request(UploadForm, source=DataSource.FORM_MULTIPART)
    @validate_response(UploadAccepted, 202)
    @documents_errors(400, 404, 409, 413, 422, 503)
    async def upload_files(
        teacher: FromDishka[AuthenticatedTeacher],
        batches: FromDishka[BatchOrchestratorClient],
        file_service: FromDishka[FileServiceClient],
    ) -> tuple[UploadAccepted, int, dict[str, str]]:
        """Upload essay files (txt, docx, pdf) to one of the teacher's batches.

        Send an `Idempotency-Key` header (any 1-128 visible ASCII characters, new for each
        upload) to make a retry safe: a repeated request gets the first answer again, marked
        `Idempotent-Replayed: true`, and no file is recorded twice. A key reused for different
        files is refused with `idempotency_key_reused` (422).
        """
        form = await request.form
        files = await request.files
        try:
            upload = UploadForm.model_validate(
                {
                    "batch_id": form.get("batch_id"),
                    "files": [file for field in FILE_FIELDS for file in files.getlist(field)],
                }
            )
        except ValidationError as error:
            raise RequestSchemaValidationError(error) from error
        await owned_batch(batches, upload.batch_id, teacher)
        accepted, replayed = await file_service.upload(
            upload.batch_id,
            teacher.teacher_id,
            upload.files,
            idempotency_key=request.headers.get(IDEMPOTENCY_KEY_HEADER),
        )
        return accepted, 202, {REPLAYED_HEADER: "true"} if replayed else {}

    return blueprint

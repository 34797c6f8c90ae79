"""file_service settings: where content_service and BOS are, and the upload limits."""

from __future__ import annotations

from pydantic import Field

from huleedu_service_libs.settings import ServiceSettings

MEBIBYTE = 1024 * 1024


class FileSettings(ServiceSettings):
    service_name: str = "file_service"

    content_service_url: str = "http://127.0.0.1:8004"
    batch_orchestrator_url: str = "http://127.0.0.1:8001"
    upstream_timeout_seconds: float = Field(default=30.0, gt=0)

    max_files_per_request: int = Field(default=100, ge=1)
    max_file_bytes: int = Field(default=10 * MEBIBYTE, ge=1)
    max_request_bytes: int = Field(default=50 * MEBIBYTE, ge=1)
    min_essay_characters: int = Field(default=50, ge=1)
    max_essay_characters: int = Field(default=50_000, ge=1)
    file_concurrency: int = Field(
        default=8, ge=1, description="Files of one request extracted and stored at the same time."
    )
    upload_answer_retention_hours: float = Field(
        default=72,
        gt=0,
        description="How long an upload's answer is kept to replay a retry with the same "
        "Idempotency-Key; older answers are deleted and the key is then new again.",
    )

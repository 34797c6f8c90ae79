"""file_service tables: `uploads` (one row per file), `upload_requests` (answers kept for
retries under an `Idempotency-Key`) and the outbox of the files' events."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from common_core.events.essay import FileFormat
from huleedu_service_libs.database import enum_type
from huleedu_service_libs.outbox import include_outbox


class UploadOutcome(StrEnum):
    """What became of one uploaded file; a rejected file still closes a slot downstream."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"


metadata = MetaData()

uploads = Table(
    "uploads",
    metadata,
    Column("file_upload_id", UUID(as_uuid=True), primary_key=True),
    Column("batch_id", UUID(as_uuid=True), nullable=False),
    Column("user_id", Text, nullable=False),
    Column("original_file_name", Text, nullable=False),
    Column("file_format", enum_type(FileFormat, "file_format"), nullable=True),
    Column("size_bytes", Integer, nullable=False),
    Column("raw_file_id", Text, nullable=True),
    Column("text_id", Text, nullable=True),
    Column("character_count", Integer, nullable=True),
    Column("outcome", enum_type(UploadOutcome, "upload_outcome"), nullable=False),
    # A FileValidationErrorCode value; text, so that a new ErrorCode needs no migration here.
    Column("reason", Text, nullable=True),
    Column("message", Text, nullable=True),
    Column("correlation_id", UUID(as_uuid=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_uploads_batch_id", "batch_id"),
)

upload_requests = Table(
    "upload_requests",
    metadata,
    Column("user_id", Text, nullable=False),
    Column("idempotency_key", Text, nullable=False),
    Column("batch_id", UUID(as_uuid=True), nullable=False),
    # SHA-256 over the batch and each file's name and bytes: a key reused for other files is
    # refused rather than answered with the first upload's outcome.
    Column("fingerprint", Text, nullable=False),
    Column("response", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("user_id", "idempotency_key", name="upload_requests_pkey"),
)

include_outbox(metadata)

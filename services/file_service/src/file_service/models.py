"""file_service tables: one `uploads` row per uploaded file, and the outbox of its events."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Column, DateTime, Index, Integer, MetaData, Table, Text, func
from sqlalchemy.dialects.postgresql import UUID

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

include_outbox(metadata)

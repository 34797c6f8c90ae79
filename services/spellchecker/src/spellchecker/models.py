"""One row per handled spellcheck request: what was checked and what was reported.

Keyed by the request's event id, so a redelivered request finds its job and reports nothing
twice, while a new request for the same essay (a later pipeline run) is checked again.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Column, DateTime, Index, MetaData, Table, Text, func
from sqlalchemy.dialects.postgresql import JSONB, UUID

from huleedu_service_libs.database import enum_type
from huleedu_service_libs.idempotency.inbox import include_inbox
from huleedu_service_libs.outbox.table import include_outbox


class JobStatus(StrEnum):
    COMPLETED = "completed"
    FAILED = "failed"


metadata = MetaData()

job_status = enum_type(JobStatus, "spellcheck_job_status")

spellcheck_jobs = Table(
    "spellcheck_jobs",
    metadata,
    Column("request_event_id", UUID(as_uuid=True), primary_key=True),
    Column("essay_id", UUID(as_uuid=True), nullable=False),
    Column("batch_id", UUID(as_uuid=True), nullable=False),
    Column("original_text_id", Text, nullable=False),
    Column("corrected_text_id", Text, nullable=True),
    Column("counts", JSONB, nullable=False),
    Column("status", job_status, nullable=False),
    Column("error", JSONB, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_spellcheck_jobs_essay_id", "essay_id"),
)

include_outbox(metadata)
include_inbox(metadata)

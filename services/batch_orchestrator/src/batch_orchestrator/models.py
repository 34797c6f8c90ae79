"""BOS tables: batches, their essays, surplus uploads, pipeline runs and phases, outbox, inbox."""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from common_core.events.base import MAX_BATCH_ESSAYS
from common_core.status import BatchStatus, PhaseName, PhaseStatus
from huleedu_service_libs.database import enum_type
from huleedu_service_libs.idempotency.inbox import include_inbox
from huleedu_service_libs.outbox.table import include_outbox

metadata = MetaData()

batch_status_type = enum_type(BatchStatus, "batch_status")
phase_name_type = enum_type(PhaseName, "phase_name")
phase_status_type = enum_type(PhaseStatus, "phase_status")

batches = Table(
    "batches",
    metadata,
    Column("batch_id", UUID(as_uuid=True), nullable=False),
    Column("user_id", Text, nullable=False),
    Column("title", Text, nullable=True),
    Column("course_code", Text, nullable=False),
    Column("language", Text, nullable=False),
    Column("class_id", Text, nullable=True),
    Column("assignment_id", Text, nullable=True),
    Column("essay_instructions", Text, nullable=False),
    Column("expected_essay_count", Integer, nullable=False),
    Column("status", batch_status_type, nullable=False),
    Column("provisioned_count", Integer, nullable=False, server_default=text("0")),
    Column("failed_count", Integer, nullable=False, server_default=text("0")),
    Column("excess_count", Integer, nullable=False, server_default=text("0")),
    Column("failure_reason", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("batch_id", name="batches_pkey"),
    CheckConstraint(
        f"expected_essay_count BETWEEN 1 AND {MAX_BATCH_ESSAYS}",
        name="batches_expected_essay_count_range",
    ),
    CheckConstraint(
        "provisioned_count >= 0 AND failed_count >= 0 AND excess_count >= 0",
        name="batches_counts_non_negative",
    ),
    # A teacher's list, newest first.
    Index("ix_batches_user_created", "user_id", "created_at", "batch_id"),
)

batch_essays = Table(
    "batch_essays",
    metadata,
    Column("batch_id", UUID(as_uuid=True), nullable=False),
    Column("essay_id", UUID(as_uuid=True), nullable=False),
    Column("slot_index", Integer, nullable=False),
    # Set when ELS reports the batch's essays: the text a first phase starts from.
    Column("text_id", Text, nullable=True),
    # An ErrorDetail when the slot failed validation; failures are kept, never dropped.
    Column("failure", JSONB(none_as_null=True), nullable=True),
    # The phase whose failure `failure` is; NULL for a validation failure at intake.
    Column("failed_phase", phase_name_type, nullable=True),
    PrimaryKeyConstraint("batch_id", "slot_index", name="batch_essays_pkey"),
    UniqueConstraint("essay_id", name="batch_essays_essay_id_key"),
    ForeignKeyConstraint(
        ["batch_id"],
        ["batches.batch_id"],
        name="batch_essays_batch_id_fkey",
        ondelete="CASCADE",
    ),
)

excess_uploads = Table(
    "excess_uploads",
    metadata,
    Column("file_upload_id", UUID(as_uuid=True), nullable=False),
    Column("batch_id", UUID(as_uuid=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # One row per surplus file: a redelivered event cannot count it twice.
    PrimaryKeyConstraint("file_upload_id", name="excess_uploads_pkey"),
    ForeignKeyConstraint(
        ["batch_id"],
        ["batches.batch_id"],
        name="excess_uploads_batch_id_fkey",
        ondelete="CASCADE",
    ),
    Index("ix_excess_uploads_batch_id", "batch_id"),
)

pipeline_runs = Table(
    "pipeline_runs",
    metadata,
    # The id of the request event that started the run: a redelivered request finds its run.
    Column("run_id", UUID(as_uuid=True), nullable=False),
    Column("batch_id", UUID(as_uuid=True), nullable=False),
    Column("requested_pipeline", phase_name_type, nullable=False),
    # PROCESSING while it runs, then the batch status it ended with.
    Column("status", batch_status_type, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("completed_at", DateTime(timezone=True), nullable=True),
    Column("correlation_id", UUID(as_uuid=True), nullable=False),
    PrimaryKeyConstraint("run_id", name="pipeline_runs_pkey"),
    ForeignKeyConstraint(
        ["batch_id"],
        ["batches.batch_id"],
        name="pipeline_runs_batch_id_fkey",
        ondelete="CASCADE",
    ),
    Index("ix_pipeline_runs_batch_started", "batch_id", "started_at"),
)

pipeline_phases = Table(
    "pipeline_phases",
    metadata,
    Column("run_id", UUID(as_uuid=True), nullable=False),
    Column("phase", phase_name_type, nullable=False),
    # Execution order within the run.
    Column("position", Integer, nullable=False),
    Column("status", phase_status_type, nullable=False),
    Column("essay_count", Integer, nullable=False, server_default=text("0")),
    Column("dispatched_at", DateTime(timezone=True), nullable=True),
    Column("deadline_at", DateTime(timezone=True), nullable=True),
    Column("completed_at", DateTime(timezone=True), nullable=True),
    Column("succeeded_count", Integer, nullable=False, server_default=text("0")),
    Column("failed_count", Integer, nullable=False, server_default=text("0")),
    Column("failure_reason", Text, nullable=True),
    PrimaryKeyConstraint("run_id", "phase", name="pipeline_phases_pkey"),
    UniqueConstraint("run_id", "position", name="pipeline_phases_run_id_position_key"),
    ForeignKeyConstraint(
        ["run_id"],
        ["pipeline_runs.run_id"],
        name="pipeline_phases_run_id_fkey",
        ondelete="CASCADE",
    ),
    CheckConstraint(
        "essay_count >= 0 AND succeeded_count >= 0 AND failed_count >= 0",
        name="pipeline_phases_counts_non_negative",
    ),
    # The monitor's scan: dispatched phases by deadline.
    Index("ix_pipeline_phases_status_deadline", "status", "deadline_at"),
)

include_outbox(metadata)
include_inbox(metadata)

"""RAS tables: one row per batch, one per essay (anchors flagged), files outside the slots,
per-phase timings and the per-batch progress log.

Any event may arrive first (topics are consumed independently), so every table is written by
upserts keyed by the event's natural id and no row depends on another having been written:
a batch row may exist before its registration (`user_id` still null), an essay row before its
slot assignment (`slot_index` still null).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Identity,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from common_core.status import BatchStatus, EssayStatus, PhaseName, PhaseStatus
from huleedu_service_libs.database import enum_type
from huleedu_service_libs.idempotency.inbox import include_inbox
from huleedu_service_libs.outbox.table import include_outbox

metadata = MetaData()

batch_status = enum_type(BatchStatus, "batch_status")
essay_status = enum_type(EssayStatus, "essay_status")
phase_name = enum_type(PhaseName, "phase_name")
phase_status = enum_type(PhaseStatus, "phase_status")


def _timestamp(name: str) -> Column[object]:
    return Column(name, DateTime(timezone=True), nullable=False, server_default=func.now())


batches = Table(
    "batches",
    metadata,
    Column("batch_id", UUID(as_uuid=True), primary_key=True),
    # Null until BatchEssaysRegistered arrives: such a batch is nobody's and reads as 404.
    Column("user_id", Text, nullable=True),
    Column("title", Text, nullable=True),
    Column("class_id", Text, nullable=True),
    Column("course_code", Text, nullable=True),
    Column("language", Text, nullable=True),
    Column("assignment_id", Text, nullable=True),
    Column("expected_essay_count", Integer, nullable=True),
    Column("status", batch_status, nullable=False),
    Column("provisioned_count", Integer, nullable=True),
    Column("failed_count", Integer, nullable=True),
    Column("intake_completed_at", DateTime(timezone=True), nullable=True),
    Column("requested_pipeline", phase_name, nullable=True),
    Column("pipeline_started_at", DateTime(timezone=True), nullable=True),
    Column("pipeline_finished_at", DateTime(timezone=True), nullable=True),
    Column("comparisons_completed", Integer, nullable=True),
    Column("reliability", Float, nullable=True),
    # Phases the last completed pipeline skipped (done by an earlier run), as BOS reported.
    Column("skipped_phases", JSONB, nullable=False, server_default="[]"),
    # The last progress `seq` handed out; incremented under this row's lock.
    Column("last_seq", Integer, nullable=False, server_default="0"),
    Column("registered_at", DateTime(timezone=True), nullable=True),
    _timestamp("created_at"),
    _timestamp("updated_at"),
)
Index("ix_batches_user_created", batches.c.user_id, batches.c.created_at)

essays = Table(
    "essays",
    metadata,
    Column("essay_id", UUID(as_uuid=True), nullable=False),
    Column("batch_id", UUID(as_uuid=True), nullable=False),
    Column("is_anchor", Boolean, nullable=False, server_default="false"),
    Column("slot_index", Integer, nullable=True),
    Column("intake_status", essay_status, nullable=True),
    Column("intake_failure_code", Text, nullable=True),
    Column("intake_failure_message", Text, nullable=True),
    Column("file_upload_id", UUID(as_uuid=True), nullable=True),
    Column("file_name", Text, nullable=True),
    Column("original_text_id", Text, nullable=True),
    Column("spellcheck_status", essay_status, nullable=True),
    Column("corrected_text_id", Text, nullable=True),
    Column("error_counts", JSONB, nullable=True),
    Column("corrections", JSONB, nullable=True),
    Column("spellcheck_failure_code", Text, nullable=True),
    Column("spellcheck_failure_message", Text, nullable=True),
    # Set by SpellcheckResult itself: the counts and corrections are in.
    Column("spellcheck_result_at", DateTime(timezone=True), nullable=True),
    Column("cj_status", essay_status, nullable=True),
    Column("cj_rank", Integer, nullable=True),
    Column("bt_score", Float, nullable=True),
    Column("bt_standard_error", Float, nullable=True),
    Column("comparison_count", Integer, nullable=True),
    Column("grade", Text, nullable=True),
    Column("grade_probability", Float, nullable=True),
    Column("cj_failure_code", Text, nullable=True),
    Column("cj_failure_message", Text, nullable=True),
    _timestamp("updated_at"),
    # Per batch: an anchor essay keeps its id in every batch it grades.
    PrimaryKeyConstraint("batch_id", "essay_id", name="essays_pkey"),
)

rejected_files = Table(
    "rejected_files",
    metadata,
    Column("file_upload_id", UUID(as_uuid=True), primary_key=True),
    Column("batch_id", UUID(as_uuid=True), nullable=False),
    Column("file_name", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("message", Text, nullable=False),
    Column("arrival", BigInteger, Identity(always=False), nullable=False),
)
Index("ix_rejected_files_batch_arrival", rejected_files.c.batch_id, rejected_files.c.arrival)

excess_files = Table(
    "excess_files",
    metadata,
    Column("file_upload_id", UUID(as_uuid=True), primary_key=True),
    Column("batch_id", UUID(as_uuid=True), nullable=False),
    Column("file_name", Text, nullable=False),
    Column("text_id", Text, nullable=False),
    Column("arrival", BigInteger, Identity(always=False), nullable=False),
)
Index("ix_excess_files_batch_arrival", excess_files.c.batch_id, excess_files.c.arrival)

batch_phases = Table(
    "batch_phases",
    metadata,
    Column("batch_id", UUID(as_uuid=True), nullable=False),
    Column("phase", phase_name, nullable=False),
    Column("status", phase_status, nullable=False),
    Column("essay_count", Integer, nullable=True),
    Column("succeeded_count", Integer, nullable=True),
    Column("failed_count", Integer, nullable=True),
    Column("started_at", DateTime(timezone=True), nullable=True),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    PrimaryKeyConstraint("batch_id", "phase", name="batch_phases_pkey"),
)

progress_log = Table(
    "progress_log",
    metadata,
    Column("batch_id", UUID(as_uuid=True), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("kind", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("data", JSONB, nullable=False),
    PrimaryKeyConstraint("batch_id", "seq", name="progress_log_pkey"),
)

include_outbox(metadata)
include_inbox(metadata)

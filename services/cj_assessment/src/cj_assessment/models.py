"""cj_assessment tables.

`cj_batches` is the aggregate: every change to a batch's comparisons and every decision about
it (next wave, finalisation) happens under its row lock. Items are numbered per batch
(`item_index`), the index the domain's pair selection and scale work on; anchors are items too.
A comparison row is one request to the LLM provider (`request_id`); a retried error result gets
a new row with `attempt + 1`.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from cj_assessment.domain.stopping import CJBatchStatus
from cj_assessment.grade_scales import GradeScaleName
from huleedu_service_libs.database import enum_type
from huleedu_service_libs.idempotency.inbox import include_inbox
from huleedu_service_libs.outbox.table import include_outbox


class ComparisonState(StrEnum):
    REQUESTED = "requested"
    JUDGED = "judged"
    # An error result that was asked again under a new request id.
    RETRIED = "retried"
    # An error result after the last retry: counted as failed and excluded.
    FAILED = "failed"
    # Still open when the batch ended (finalised or failed); a late answer is ignored.
    ABANDONED = "abandoned"


metadata = MetaData()

cj_batch_status = enum_type(CJBatchStatus, "cj_batch_status")
comparison_state = enum_type(ComparisonState, "comparison_state")
grade_scale_name = enum_type(GradeScaleName, "grade_scale_name")

assignments = Table(
    "assignments",
    metadata,
    Column("assignment_id", Text, primary_key=True),
    # The teacher who registered the first anchor owns the assignment's anchors.
    Column("owner_user_id", Text, nullable=False),
    Column("grade_scale", grade_scale_name, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

anchors = Table(
    "anchors",
    metadata,
    Column("anchor_id", UUID(as_uuid=True), primary_key=True),
    Column(
        "assignment_id",
        Text,
        ForeignKey("assignments.assignment_id", name="anchors_assignment_id_fkey"),
        nullable=False,
    ),
    Column("grade", Text, nullable=False),
    Column("label", Text, nullable=False),
    Column("text_id", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_anchors_assignment_id", "assignment_id"),
)

cj_batches = Table(
    "cj_batches",
    metadata,
    Column("batch_id", UUID(as_uuid=True), primary_key=True),
    Column("status", cj_batch_status, nullable=False),
    Column("correlation_id", UUID(as_uuid=True), nullable=False),
    Column("course_code", Text, nullable=False),
    Column("language", Text, nullable=False),
    Column("essay_instructions", Text, nullable=False),
    Column("assignment_id", Text, nullable=True),
    # The anchors' scale when the batch has anchors (grades are projected on it).
    Column("grade_scale", grade_scale_name, nullable=True),
    Column("comparison_budget", Integer, nullable=False),
    Column("wave", Integer, nullable=False, server_default="0"),
    Column("deadline_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Set in the transaction that emits the batch's final events: its presence means "emitted".
    Column("finalised_at", DateTime(timezone=True), nullable=True),
    Column("end_reason", Text, nullable=True),
    Column("failure_code", Text, nullable=True),
    Column("failure_message", Text, nullable=True),
    Column("comparisons_completed", Integer, nullable=True),
    # Diagnostics of the final scale (reliability, SSR, position bias, per-judge fit).
    Column("diagnostics", JSONB, nullable=True),
    Index("ix_cj_batches_deadline_at", "deadline_at"),
)

cj_items = Table(
    "cj_items",
    metadata,
    Column(
        "batch_id",
        UUID(as_uuid=True),
        ForeignKey("cj_batches.batch_id", name="cj_items_batch_id_fkey"),
        primary_key=True,
    ),
    Column("item_index", Integer, primary_key=True),
    # A student's essay id, or the anchor id for an anchor.
    Column("essay_id", UUID(as_uuid=True), nullable=False),
    Column("text_id", Text, nullable=False),
    Column("is_anchor", Boolean, nullable=False),
    Column("anchor_grade", Text, nullable=True),
    # The final place on the scale, written when the batch completes.
    Column("rank", Integer, nullable=True),
    Column("bt_score", Float, nullable=True),
    Column("bt_standard_error", Float, nullable=True),
    Column("comparison_count", Integer, nullable=True),
    Column("projected_grade", Text, nullable=True),
    Column("grade_probability", Float, nullable=True),
    UniqueConstraint("batch_id", "essay_id", name="cj_items_batch_id_essay_id_key"),
)

cj_comparisons = Table(
    "cj_comparisons",
    metadata,
    Column("request_id", UUID(as_uuid=True), primary_key=True),
    Column("batch_id", UUID(as_uuid=True), nullable=False),
    Column("wave", Integer, nullable=False),
    # Item shown first (essay A) and second (essay B).
    Column("a_index", Integer, nullable=False),
    Column("b_index", Integer, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("state", comparison_state, nullable=False),
    Column("winner_index", Integer, nullable=True),
    # "provider/model" that answered: the judge of the per-judge diagnostics.
    Column("judge", Text, nullable=True),
    Column("error_code", Text, nullable=True),
    Column("requested_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("answered_at", DateTime(timezone=True), nullable=True),
    ForeignKeyConstraint(
        ["batch_id"], ["cj_batches.batch_id"], name="cj_comparisons_batch_id_fkey"
    ),
    CheckConstraint("a_index <> b_index", name="cj_comparisons_distinct_items"),
    Index("ix_cj_comparisons_batch_state", "batch_id", "state"),
)

cj_refits = Table(
    "cj_refits",
    metadata,
    Column(
        "batch_id",
        UUID(as_uuid=True),
        ForeignKey("cj_batches.batch_id", name="cj_refits_batch_id_fkey"),
        primary_key=True,
    ),
    Column("wave", Integer, primary_key=True),
    Column("valid_comparisons", Integer, nullable=False),
    # Mean-centred scores in item order: the history the stopping rule reads.
    Column("scores", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

include_outbox(metadata)
include_inbox(metadata)

"""read model: batches, essays, rejected and excess files, phases, progress log, outbox, inbox

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from typing import cast

import sqlalchemy as sa
from alembic import op
from alembic.operations import Operations
from sqlalchemy.dialects import postgresql

from huleedu_service_libs.idempotency.inbox import create_inbox_table, drop_inbox_table
from huleedu_service_libs.outbox.migration import create_outbox_table, drop_outbox_table

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Frozen here on purpose: a later value of a Python enum gets its own migration.
ENUMS = {
    "batch_status": (
        "awaiting_content",
        "ready",
        "processing",
        "completed_successfully",
        "completed_with_failures",
        "failed",
        "cancelled",
    ),
    "essay_status": (
        "awaiting_content",
        "content_provisioned",
        "validation_failed",
        "ready_for_processing",
        "spellcheck_requested",
        "spellchecked",
        "spellcheck_failed",
        "cj_requested",
        "cj_completed",
        "cj_failed",
    ),
    "phase_name": ("spellcheck", "cj_assessment"),
    "phase_status": (
        "pending",
        "dispatched",
        "completed",
        "completed_with_failures",
        "failed",
        "skipped",
    ),
}


def _enum(name: str) -> postgresql.ENUM:
    return postgresql.ENUM(name=name, create_type=False)


def _now(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now())


def _at(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=True)


def upgrade() -> None:
    for name, values in ENUMS.items():
        postgresql.ENUM(*values, name=name).create(op.get_bind())
    uuid = postgresql.UUID(as_uuid=True)

    op.create_table(
        "batches",
        sa.Column("batch_id", uuid, primary_key=True),
        sa.Column("user_id", sa.Text(), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("class_id", sa.Text(), nullable=True),
        sa.Column("course_code", sa.Text(), nullable=True),
        sa.Column("language", sa.Text(), nullable=True),
        sa.Column("assignment_id", sa.Text(), nullable=True),
        sa.Column("expected_essay_count", sa.Integer(), nullable=True),
        sa.Column("status", _enum("batch_status"), nullable=False),
        sa.Column("provisioned_count", sa.Integer(), nullable=True),
        sa.Column("failed_count", sa.Integer(), nullable=True),
        _at("intake_completed_at"),
        sa.Column("requested_pipeline", _enum("phase_name"), nullable=True),
        _at("pipeline_started_at"),
        _at("pipeline_finished_at"),
        sa.Column("comparisons_completed", sa.Integer(), nullable=True),
        sa.Column("reliability", sa.Float(), nullable=True),
        sa.Column("skipped_phases", postgresql.JSONB(), nullable=False, server_default="[]"),
        sa.Column("last_seq", sa.Integer(), nullable=False, server_default="0"),
        _at("registered_at"),
        _now("created_at"),
        _now("updated_at"),
    )
    op.create_index("ix_batches_user_created", "batches", ["user_id", "created_at"])

    op.create_table(
        "essays",
        sa.Column("essay_id", uuid, nullable=False),
        sa.Column("batch_id", uuid, nullable=False),
        sa.Column("is_anchor", sa.Boolean(), nullable=False, server_default="false"),
        sa.Column("slot_index", sa.Integer(), nullable=True),
        sa.Column("intake_status", _enum("essay_status"), nullable=True),
        sa.Column("intake_failure_code", sa.Text(), nullable=True),
        sa.Column("intake_failure_message", sa.Text(), nullable=True),
        sa.Column("file_upload_id", uuid, nullable=True),
        sa.Column("file_name", sa.Text(), nullable=True),
        sa.Column("original_text_id", sa.Text(), nullable=True),
        sa.Column("spellcheck_status", _enum("essay_status"), nullable=True),
        sa.Column("corrected_text_id", sa.Text(), nullable=True),
        sa.Column("error_counts", postgresql.JSONB(), nullable=True),
        sa.Column("corrections", postgresql.JSONB(), nullable=True),
        sa.Column("spellcheck_failure_code", sa.Text(), nullable=True),
        sa.Column("spellcheck_failure_message", sa.Text(), nullable=True),
        _at("spellcheck_result_at"),
        sa.Column("cj_status", _enum("essay_status"), nullable=True),
        sa.Column("cj_rank", sa.Integer(), nullable=True),
        sa.Column("bt_score", sa.Float(), nullable=True),
        sa.Column("bt_standard_error", sa.Float(), nullable=True),
        sa.Column("comparison_count", sa.Integer(), nullable=True),
        sa.Column("grade", sa.Text(), nullable=True),
        sa.Column("grade_probability", sa.Float(), nullable=True),
        sa.Column("cj_failure_code", sa.Text(), nullable=True),
        sa.Column("cj_failure_message", sa.Text(), nullable=True),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("batch_id", "essay_id", name="essays_pkey"),
    )

    op.create_table(
        "rejected_files",
        sa.Column("file_upload_id", uuid, primary_key=True),
        sa.Column("batch_id", uuid, nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("arrival", sa.BigInteger(), sa.Identity(always=False), nullable=False),
    )
    op.create_index("ix_rejected_files_batch_arrival", "rejected_files", ["batch_id", "arrival"])
    op.create_table(
        "excess_files",
        sa.Column("file_upload_id", uuid, primary_key=True),
        sa.Column("batch_id", uuid, nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("text_id", sa.Text(), nullable=False),
        sa.Column("arrival", sa.BigInteger(), sa.Identity(always=False), nullable=False),
    )
    op.create_index("ix_excess_files_batch_arrival", "excess_files", ["batch_id", "arrival"])
    op.create_table(
        "batch_phases",
        sa.Column("batch_id", uuid, nullable=False),
        sa.Column("phase", _enum("phase_name"), nullable=False),
        sa.Column("status", _enum("phase_status"), nullable=False),
        sa.Column("essay_count", sa.Integer(), nullable=True),
        sa.Column("succeeded_count", sa.Integer(), nullable=True),
        sa.Column("failed_count", sa.Integer(), nullable=True),
        _at("started_at"),
        _at("finished_at"),
        sa.PrimaryKeyConstraint("batch_id", "phase", name="batch_phases_pkey"),
    )
    op.create_table(
        "progress_log",
        sa.Column("batch_id", uuid, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", postgresql.JSONB(), nullable=False),
        sa.PrimaryKeyConstraint("batch_id", "seq", name="progress_log_pkey"),
    )
    # `alembic.op` proxies the running `Operations`, which the shared helpers take.
    create_outbox_table(cast(Operations, op))
    create_inbox_table(cast(Operations, op))


def downgrade() -> None:
    drop_inbox_table(cast(Operations, op))
    drop_outbox_table(cast(Operations, op))
    op.drop_table("progress_log")
    op.drop_table("batch_phases")
    op.drop_index("ix_excess_files_batch_arrival", table_name="excess_files")
    op.drop_table("excess_files")
    op.drop_index("ix_rejected_files_batch_arrival", table_name="rejected_files")
    op.drop_table("rejected_files")
    op.drop_table("essays")
    op.drop_index("ix_batches_user_created", table_name="batches")
    op.drop_table("batches")
    for name in reversed(ENUMS):
        postgresql.ENUM(name=name).drop(op.get_bind())

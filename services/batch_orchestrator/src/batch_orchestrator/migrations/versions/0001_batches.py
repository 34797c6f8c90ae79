"""batches, batch_essays, excess_uploads, outbox and inbox

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

# `alembic.op` is a module proxying the running `Operations`; the shared helpers take the latter.
OPERATIONS = cast(Operations, op)

# Written out, not imported: a value added to BatchStatus later needs its own migration.
BATCH_STATUS = postgresql.ENUM(
    "awaiting_content",
    "ready",
    "processing",
    "completed_successfully",
    "completed_with_failures",
    "failed",
    "cancelled",
    name="batch_status",
    create_type=False,
)


def upgrade() -> None:
    BATCH_STATUS.create(op.get_bind(), checkfirst=False)
    op.create_table(
        "batches",
        sa.Column("batch_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("course_code", sa.Text(), nullable=False),
        sa.Column("language", sa.Text(), nullable=False),
        sa.Column("class_id", sa.Text(), nullable=True),
        sa.Column("assignment_id", sa.Text(), nullable=True),
        sa.Column("essay_instructions", sa.Text(), nullable=False),
        sa.Column("expected_essay_count", sa.Integer(), nullable=False),
        sa.Column("status", BATCH_STATUS, nullable=False),
        sa.Column("provisioned_count", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("failed_count", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("excess_count", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("batch_id", name="batches_pkey"),
        sa.CheckConstraint(
            "expected_essay_count BETWEEN 1 AND 500", name="batches_expected_essay_count_range"
        ),
        sa.CheckConstraint(
            "provisioned_count >= 0 AND failed_count >= 0 AND excess_count >= 0",
            name="batches_counts_non_negative",
        ),
    )
    op.create_index("ix_batches_user_created", "batches", ["user_id", "created_at", "batch_id"])
    op.create_table(
        "batch_essays",
        sa.Column("batch_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("essay_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("slot_index", sa.Integer(), nullable=False),
        sa.Column("text_id", sa.Text(), nullable=True),
        sa.Column("failure", postgresql.JSONB(), nullable=True),
        sa.PrimaryKeyConstraint("batch_id", "slot_index", name="batch_essays_pkey"),
        sa.UniqueConstraint("essay_id", name="batch_essays_essay_id_key"),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["batches.batch_id"],
            name="batch_essays_batch_id_fkey",
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "excess_uploads",
        sa.Column("file_upload_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("batch_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("file_upload_id", name="excess_uploads_pkey"),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["batches.batch_id"],
            name="excess_uploads_batch_id_fkey",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_excess_uploads_batch_id", "excess_uploads", ["batch_id"])
    create_outbox_table(OPERATIONS)
    create_inbox_table(OPERATIONS)


def downgrade() -> None:
    drop_inbox_table(OPERATIONS)
    drop_outbox_table(OPERATIONS)
    op.drop_table("excess_uploads")
    op.drop_table("batch_essays")
    op.drop_table("batches")
    BATCH_STATUS.drop(op.get_bind(), checkfirst=False)

"""intake: batches, essay slots, pending and excess content, outbox, inbox

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

# Frozen here on purpose: a later value of the Python enum gets its own migration.
ESSAY_STATUS_VALUES = (
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
)
UPLOAD_KIND_VALUES = ("content", "validation_failure")


def _upload_columns(upload_kind: sa.Enum) -> list[sa.Column[object]]:
    return [
        sa.Column("file_upload_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("batch_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("kind", upload_kind, nullable=False),
        sa.Column("original_file_name", sa.Text(), nullable=False),
        sa.Column("text_id", sa.Text(), nullable=True),
        sa.Column("raw_file_id", sa.Text(), nullable=True),
        sa.Column("failure_code", sa.Text(), nullable=True),
        sa.Column("failure_message", sa.Text(), nullable=True),
        sa.Column("correlation_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("arrival", sa.BigInteger(), sa.Identity(always=False), nullable=False),
    ]


def upgrade() -> None:
    essay_status = postgresql.ENUM(*ESSAY_STATUS_VALUES, name="essay_status")
    upload_kind = postgresql.ENUM(*UPLOAD_KIND_VALUES, name="upload_kind")
    essay_status.create(op.get_bind())
    upload_kind.create(op.get_bind())
    essay_status_column = postgresql.ENUM(name="essay_status", create_type=False)
    upload_kind_column = postgresql.ENUM(name="upload_kind", create_type=False)

    op.create_table(
        "batches",
        sa.Column("batch_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("expected_essay_count", sa.Integer(), nullable=False),
        sa.Column("course_code", sa.Text(), nullable=False),
        sa.Column("language", sa.Text(), nullable=False),
        sa.Column("essay_instructions", sa.Text(), nullable=False),
        sa.Column("assignment_id", sa.Text(), nullable=True),
        sa.Column("correlation_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column(
            "registered_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.now(),
        ),
        sa.Column("intake_completed_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "essays",
        sa.Column("essay_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column(
            "batch_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("batches.batch_id", name="essays_batch_id_fkey"),
            nullable=False,
        ),
        sa.Column("slot_index", sa.Integer(), nullable=False),
        sa.Column("status", essay_status_column, nullable=False),
        sa.Column("file_upload_id", postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column("original_file_name", sa.Text(), nullable=True),
        sa.Column("text_id", sa.Text(), nullable=True),
        sa.Column("raw_file_id", sa.Text(), nullable=True),
        sa.Column("failure_code", sa.Text(), nullable=True),
        sa.Column("failure_message", sa.Text(), nullable=True),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.UniqueConstraint("batch_id", "slot_index", name="essays_batch_id_slot_index_key"),
        sa.UniqueConstraint("file_upload_id", name="essays_file_upload_id_key"),
    )
    op.create_table(
        "pending_content",
        *_upload_columns(upload_kind_column),
        sa.Column(
            "received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_index("ix_pending_content_batch_arrival", "pending_content", ["batch_id", "arrival"])
    op.create_table(
        "excess_content",
        *_upload_columns(upload_kind_column),
        sa.Column(
            "recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_index("ix_excess_content_batch_arrival", "excess_content", ["batch_id", "arrival"])
    # `alembic.op` proxies the running `Operations`, which the shared helpers take.
    create_outbox_table(cast(Operations, op))
    create_inbox_table(cast(Operations, op))


def downgrade() -> None:
    drop_inbox_table(cast(Operations, op))
    drop_outbox_table(cast(Operations, op))
    op.drop_index("ix_excess_content_batch_arrival", table_name="excess_content")
    op.drop_table("excess_content")
    op.drop_index("ix_pending_content_batch_arrival", table_name="pending_content")
    op.drop_table("pending_content")
    op.drop_table("essays")
    op.drop_table("batches")
    postgresql.ENUM(name="upload_kind").drop(op.get_bind())
    postgresql.ENUM(name="essay_status").drop(op.get_bind())

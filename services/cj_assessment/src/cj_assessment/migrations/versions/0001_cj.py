"""cj: assignments and anchors, CJ batches, items, comparisons, refits, outbox, inbox

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
CJ_BATCH_STATUS_VALUES = ("collecting", "scoring", "completed", "failed")
COMPARISON_STATE_VALUES = ("requested", "judged", "retried", "failed", "abandoned")
GRADE_SCALE_NAME_VALUES = ("swedish_f_a", "eng5_np")


def _now() -> sa.Column[object]:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    )


def upgrade() -> None:
    bind = op.get_bind()
    postgresql.ENUM(*CJ_BATCH_STATUS_VALUES, name="cj_batch_status").create(bind)
    postgresql.ENUM(*COMPARISON_STATE_VALUES, name="comparison_state").create(bind)
    postgresql.ENUM(*GRADE_SCALE_NAME_VALUES, name="grade_scale_name").create(bind)
    batch_status = postgresql.ENUM(name="cj_batch_status", create_type=False)
    comparison_state = postgresql.ENUM(name="comparison_state", create_type=False)
    grade_scale = postgresql.ENUM(name="grade_scale_name", create_type=False)

    op.create_table(
        "assignments",
        sa.Column("assignment_id", sa.Text(), primary_key=True),
        sa.Column("owner_user_id", sa.Text(), nullable=False),
        sa.Column("grade_scale", grade_scale, nullable=False),
        _now(),
    )
    op.create_table(
        "anchors",
        sa.Column("anchor_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column(
            "assignment_id",
            sa.Text(),
            sa.ForeignKey("assignments.assignment_id", name="anchors_assignment_id_fkey"),
            nullable=False,
        ),
        sa.Column("grade", sa.Text(), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("text_id", sa.Text(), nullable=False),
        _now(),
    )
    op.create_index("ix_anchors_assignment_id", "anchors", ["assignment_id"])
    op.create_table(
        "cj_batches",
        sa.Column("batch_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("status", batch_status, nullable=False),
        sa.Column("correlation_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("course_code", sa.Text(), nullable=False),
        sa.Column("language", sa.Text(), nullable=False),
        sa.Column("essay_instructions", sa.Text(), nullable=False),
        sa.Column("assignment_id", sa.Text(), nullable=True),
        sa.Column("grade_scale", grade_scale, nullable=True),
        sa.Column("comparison_budget", sa.Integer(), nullable=False),
        sa.Column("wave", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=False),
        _now(),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("finalised_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.Text(), nullable=True),
        sa.Column("failure_code", sa.Text(), nullable=True),
        sa.Column("failure_message", sa.Text(), nullable=True),
        sa.Column("comparisons_completed", sa.Integer(), nullable=True),
        sa.Column("diagnostics", postgresql.JSONB(), nullable=True),
    )
    op.create_index("ix_cj_batches_deadline_at", "cj_batches", ["deadline_at"])
    op.create_table(
        "cj_items",
        sa.Column(
            "batch_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("cj_batches.batch_id", name="cj_items_batch_id_fkey"),
            primary_key=True,
        ),
        sa.Column("item_index", sa.Integer(), primary_key=True),
        sa.Column("essay_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("text_id", sa.Text(), nullable=False),
        sa.Column("is_anchor", sa.Boolean(), nullable=False),
        sa.Column("anchor_grade", sa.Text(), nullable=True),
        sa.Column("rank", sa.Integer(), nullable=True),
        sa.Column("bt_score", sa.Float(), nullable=True),
        sa.Column("bt_standard_error", sa.Float(), nullable=True),
        sa.Column("comparison_count", sa.Integer(), nullable=True),
        sa.Column("projected_grade", sa.Text(), nullable=True),
        sa.Column("grade_probability", sa.Float(), nullable=True),
        sa.UniqueConstraint("batch_id", "essay_id", name="cj_items_batch_id_essay_id_key"),
    )
    op.create_table(
        "cj_comparisons",
        sa.Column("request_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("batch_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("wave", sa.Integer(), nullable=False),
        sa.Column("a_index", sa.Integer(), nullable=False),
        sa.Column("b_index", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("state", comparison_state, nullable=False),
        sa.Column("winner_index", sa.Integer(), nullable=True),
        sa.Column("judge", sa.Text(), nullable=True),
        sa.Column("error_code", sa.Text(), nullable=True),
        sa.Column(
            "requested_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.now(),
        ),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["cj_batches.batch_id"], name="cj_comparisons_batch_id_fkey"
        ),
        sa.CheckConstraint("a_index <> b_index", name="cj_comparisons_distinct_items"),
    )
    op.create_index("ix_cj_comparisons_batch_state", "cj_comparisons", ["batch_id", "state"])
    op.create_table(
        "cj_refits",
        sa.Column(
            "batch_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("cj_batches.batch_id", name="cj_refits_batch_id_fkey"),
            primary_key=True,
        ),
        sa.Column("wave", sa.Integer(), primary_key=True),
        sa.Column("valid_comparisons", sa.Integer(), nullable=False),
        sa.Column("scores", postgresql.JSONB(), nullable=False),
        _now(),
    )
    # `alembic.op` proxies the running `Operations`, which the shared helpers take.
    create_outbox_table(cast(Operations, op))
    create_inbox_table(cast(Operations, op))


def downgrade() -> None:
    drop_inbox_table(cast(Operations, op))
    drop_outbox_table(cast(Operations, op))
    op.drop_table("cj_refits")
    op.drop_index("ix_cj_comparisons_batch_state", table_name="cj_comparisons")
    op.drop_table("cj_comparisons")
    op.drop_table("cj_items")
    op.drop_index("ix_cj_batches_deadline_at", table_name="cj_batches")
    op.drop_table("cj_batches")
    op.drop_index("ix_anchors_assignment_id", table_name="anchors")
    op.drop_table("anchors")
    op.drop_table("assignments")
    bind = op.get_bind()
    postgresql.ENUM(name="grade_scale_name").drop(bind)
    postgresql.ENUM(name="comparison_state").drop(bind)
    postgresql.ENUM(name="cj_batch_status").drop(bind)

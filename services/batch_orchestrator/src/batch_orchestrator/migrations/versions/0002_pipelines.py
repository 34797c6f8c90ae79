"""pipeline_runs, pipeline_phases and the phase an essay failed in

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Written out, not imported: a value added to an enum later needs its own migration.
PHASE_NAME = postgresql.ENUM("spellcheck", "cj_assessment", name="phase_name", create_type=False)
PHASE_STATUS = postgresql.ENUM(
    "pending",
    "dispatched",
    "completed",
    "completed_with_failures",
    "failed",
    "skipped",
    name="phase_status",
    create_type=False,
)
BATCH_STATUS = postgresql.ENUM(name="batch_status", create_type=False)


def upgrade() -> None:
    PHASE_NAME.create(op.get_bind(), checkfirst=False)
    PHASE_STATUS.create(op.get_bind(), checkfirst=False)
    op.add_column("batch_essays", sa.Column("failed_phase", PHASE_NAME, nullable=True))
    op.create_table(
        "pipeline_runs",
        sa.Column("run_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("batch_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("requested_pipeline", PHASE_NAME, nullable=False),
        sa.Column("status", BATCH_STATUS, nullable=False),
        sa.Column(
            "started_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("correlation_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.PrimaryKeyConstraint("run_id", name="pipeline_runs_pkey"),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["batches.batch_id"],
            name="pipeline_runs_batch_id_fkey",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_pipeline_runs_batch_started", "pipeline_runs", ["batch_id", "started_at"])
    op.create_table(
        "pipeline_phases",
        sa.Column("run_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("phase", PHASE_NAME, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("status", PHASE_STATUS, nullable=False),
        sa.Column("essay_count", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("succeeded_count", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("failed_count", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("run_id", "phase", name="pipeline_phases_pkey"),
        sa.UniqueConstraint("run_id", "position", name="pipeline_phases_run_id_position_key"),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["pipeline_runs.run_id"],
            name="pipeline_phases_run_id_fkey",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(
            "essay_count >= 0 AND succeeded_count >= 0 AND failed_count >= 0",
            name="pipeline_phases_counts_non_negative",
        ),
    )
    op.create_index(
        "ix_pipeline_phases_status_deadline", "pipeline_phases", ["status", "deadline_at"]
    )


def downgrade() -> None:
    op.drop_table("pipeline_phases")
    op.drop_table("pipeline_runs")
    op.drop_column("batch_essays", "failed_phase")
    PHASE_STATUS.drop(op.get_bind(), checkfirst=False)
    PHASE_NAME.drop(op.get_bind(), checkfirst=False)

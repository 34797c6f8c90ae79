"""phases: batch phases and the essays in each

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

# Frozen here on purpose: a later value of the Python enum gets its own migration.
PHASE_NAME_VALUES = ("spellcheck", "cj_assessment")


def upgrade() -> None:
    postgresql.ENUM(*PHASE_NAME_VALUES, name="phase_name").create(op.get_bind())
    phase_name = postgresql.ENUM(name="phase_name", create_type=False)
    essay_status = postgresql.ENUM(name="essay_status", create_type=False)

    op.create_table(
        "batch_phases",
        sa.Column(
            "batch_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("batches.batch_id", name="batch_phases_batch_id_fkey"),
            primary_key=True,
        ),
        sa.Column("phase", phase_name, primary_key=True),
        sa.Column("correlation_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column(
            "started_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("outcome_emitted_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "phase_essays",
        sa.Column("batch_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("phase", phase_name, primary_key=True),
        sa.Column("essay_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("status", essay_status, nullable=False),
        sa.Column("input_text_id", sa.Text(), nullable=False),
        sa.Column("new_text_id", sa.Text(), nullable=True),
        sa.Column("failure_code", sa.Text(), nullable=True),
        sa.Column("failure_message", sa.Text(), nullable=True),
        sa.Column("error", postgresql.JSONB(), nullable=True),
        sa.Column("details", postgresql.JSONB(), nullable=True),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.ForeignKeyConstraint(
            ["batch_id", "phase"],
            ["batch_phases.batch_id", "batch_phases.phase"],
            name="phase_essays_batch_phase_fkey",
        ),
    )
    op.create_index("ix_phase_essays_essay_id", "phase_essays", ["essay_id"])


def downgrade() -> None:
    op.drop_index("ix_phase_essays_essay_id", table_name="phase_essays")
    op.drop_table("phase_essays")
    op.drop_table("batch_phases")
    postgresql.ENUM(name="phase_name").drop(op.get_bind())

"""Batches and essays.

Revision ID: s0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "s0001"
down_revision = None
branch_labels = None
depends_on = None

essay_status = postgresql.ENUM(
    "awaiting_content", "ready", "spellchecked", "failed", name="essay_status", create_type=False
)


def upgrade() -> None:
    essay_status.create(op.get_bind())
    op.create_table(
        "batches",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name="pk_batches"),
    )
    op.create_table(
        "essays",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("batch_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("status", essay_status, nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["batches.id"],
            name="fk_essays_batch_id_batches",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_essays"),
        sa.UniqueConstraint("batch_id", "slot", name="uq_essays_batch_id_slot"),
    )
    op.create_index("ix_essays_batch_id", "essays", ["batch_id"])


def downgrade() -> None:
    op.drop_index("ix_essays_batch_id", table_name="essays")
    op.drop_table("essays")
    op.drop_table("batches")
    essay_status.drop(op.get_bind())

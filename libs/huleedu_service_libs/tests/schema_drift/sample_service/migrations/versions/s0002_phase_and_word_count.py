"""Batch phase and essay word count.

Revision ID: s0002
Revises: s0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "s0002"
down_revision = "s0001"
branch_labels = None
depends_on = None

batch_phase = postgresql.ENUM("spellcheck", "cj_assessment", name="batch_phase", create_type=False)


def upgrade() -> None:
    batch_phase.create(op.get_bind())
    op.add_column("batches", sa.Column("current_phase", batch_phase, nullable=True))
    op.add_column("essays", sa.Column("word_count", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("essays", "word_count")
    op.drop_column("batches", "current_phase")
    batch_phase.drop(op.get_bind())

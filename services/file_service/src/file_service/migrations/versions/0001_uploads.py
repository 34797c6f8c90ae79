"""uploads and event_outbox tables

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from typing import cast

import sqlalchemy as sa
from alembic import op
from alembic.operations import Operations
from sqlalchemy.dialects import postgresql

from huleedu_service_libs.outbox.migration import create_outbox_table, drop_outbox_table

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Frozen here: a later change to the Python enums gets its own migration.
_FILE_FORMAT = postgresql.ENUM("txt", "docx", "pdf", name="file_format", create_type=False)
_UPLOAD_OUTCOME = postgresql.ENUM("accepted", "rejected", name="upload_outcome", create_type=False)


def upgrade() -> None:
    bind = op.get_bind()
    _FILE_FORMAT.create(bind)
    _UPLOAD_OUTCOME.create(bind)
    op.create_table(
        "uploads",
        sa.Column("file_upload_id", sa.UUID(), primary_key=True),
        sa.Column("batch_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("original_file_name", sa.Text(), nullable=False),
        sa.Column("file_format", _FILE_FORMAT, nullable=True),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("raw_file_id", sa.Text(), nullable=True),
        sa.Column("text_id", sa.Text(), nullable=True),
        sa.Column("character_count", sa.Integer(), nullable=True),
        sa.Column("outcome", _UPLOAD_OUTCOME, nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("correlation_id", sa.UUID(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_index("ix_uploads_batch_id", "uploads", ["batch_id"])
    create_outbox_table(cast(Operations, op))


def downgrade() -> None:
    drop_outbox_table(cast(Operations, op))
    op.drop_index("ix_uploads_batch_id", table_name="uploads")
    op.drop_table("uploads")
    bind = op.get_bind()
    _UPLOAD_OUTCOME.drop(bind)
    _FILE_FORMAT.drop(bind)

"""spellcheck_jobs, outbox, inbox

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
JOB_STATUS_VALUES = ("completed", "failed")


def upgrade() -> None:
    job_status = postgresql.ENUM(*JOB_STATUS_VALUES, name="spellcheck_job_status")
    job_status.create(op.get_bind())
    op.create_table(
        "spellcheck_jobs",
        sa.Column("request_event_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("essay_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("batch_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("original_text_id", sa.Text(), nullable=False),
        sa.Column("corrected_text_id", sa.Text(), nullable=True),
        sa.Column("counts", postgresql.JSONB(), nullable=False),
        sa.Column(
            "status",
            postgresql.ENUM(name="spellcheck_job_status", create_type=False),
            nullable=False,
        ),
        sa.Column("error", postgresql.JSONB(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_index("ix_spellcheck_jobs_essay_id", "spellcheck_jobs", ["essay_id"])
    # `alembic.op` proxies the running `Operations`, which the shared helpers take.
    create_outbox_table(cast(Operations, op))
    create_inbox_table(cast(Operations, op))


def downgrade() -> None:
    drop_inbox_table(cast(Operations, op))
    drop_outbox_table(cast(Operations, op))
    op.drop_index("ix_spellcheck_jobs_essay_id", table_name="spellcheck_jobs")
    op.drop_table("spellcheck_jobs")
    postgresql.ENUM(name="spellcheck_job_status").drop(op.get_bind())

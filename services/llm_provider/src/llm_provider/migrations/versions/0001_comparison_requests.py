"""comparison requests, outbox, inbox

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
REQUEST_STATE_VALUES = ("queued", "in_flight", "done", "failed")


def upgrade() -> None:
    state = postgresql.ENUM(*REQUEST_STATE_VALUES, name="comparison_request_state")
    op.create_table(
        "comparison_requests",
        sa.Column("request_id", sa.UUID(), primary_key=True),
        sa.Column("batch_id", sa.UUID(), nullable=False),
        sa.Column("state", state, nullable=False, server_default="queued"),
        sa.Column("callback_topic", sa.Text(), nullable=False),
        sa.Column("correlation_id", sa.UUID(), nullable=True),
        sa.Column("payload", postgresql.JSONB(), nullable=False),
        sa.Column("priority", sa.SmallInteger(), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("response", postgresql.JSONB(), nullable=True),
        sa.Column("provider", sa.Text(), nullable=True),
        sa.Column("model", sa.Text(), nullable=True),
        sa.Column("input_tokens", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("output_tokens", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("cached_tokens", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("cost_usd", sa.Numeric(18, 8), nullable=False, server_default=sa.text("0")),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_index("ix_comparison_requests_batch", "comparison_requests", ["batch_id"])
    op.create_index(
        "ix_comparison_requests_state", "comparison_requests", ["state", "lease_expires_at"]
    )
    create_outbox_table(cast(Operations, op))
    create_inbox_table(cast(Operations, op))


def downgrade() -> None:
    drop_inbox_table(cast(Operations, op))
    drop_outbox_table(cast(Operations, op))
    op.drop_table("comparison_requests")
    sa.Enum(name="comparison_request_state").drop(op.get_bind(), checkfirst=True)

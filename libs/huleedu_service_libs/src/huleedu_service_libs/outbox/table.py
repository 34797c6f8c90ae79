"""The `event_outbox` table, defined once and reused by every service's metadata."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

OUTBOX_NOTIFY_CHANNEL = "event_outbox"

_metadata = MetaData()

outbox_table = Table(
    "event_outbox",
    _metadata,
    Column("id", BigInteger, Identity(always=False), primary_key=True),
    Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
    Column("event_type", Text, nullable=False),
    Column("topic", Text, nullable=False),
    Column("aggregate_key", Text, nullable=True),
    Column("payload", JSONB, nullable=False),
    Column("headers", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("published_at", DateTime(timezone=True), nullable=True),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("last_error", Text, nullable=True),
    Column("next_attempt_at", DateTime(timezone=True), nullable=True),
    Column("dead_at", DateTime(timezone=True), nullable=True),
    Index(
        "ix_event_outbox_pending",
        "id",
        postgresql_where=text("published_at IS NULL AND dead_at IS NULL"),
    ),
    Index(
        "ix_event_outbox_pending_key",
        "aggregate_key",
        "id",
        postgresql_where=text("published_at IS NULL AND dead_at IS NULL"),
    ),
)


def include_outbox(metadata: MetaData) -> Table:
    """Add the outbox table to a service's metadata (for Alembic and the drift guard)."""
    return outbox_table.to_metadata(metadata)

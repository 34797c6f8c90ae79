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
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.schema import SchemaItem

OUTBOX_TABLE_NAME = "event_outbox"
OUTBOX_NOTIFY_CHANNEL = "event_outbox"

_PENDING = "published_at IS NULL AND dead_at IS NULL"


def outbox_schema_items() -> list[SchemaItem]:
    """Fresh columns, constraints and indexes of the outbox table.

    The table below and the Alembic helper in `outbox.migration` both build from this one
    list, so a service's migration cannot drift from the model. Constraint names are explicit
    so that a service's naming convention does not rename them in one place only.
    """
    return [
        Column("id", BigInteger, Identity(always=False), nullable=False),
        Column("event_id", UUID(as_uuid=True), nullable=False),
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
        PrimaryKeyConstraint("id", name="event_outbox_pkey"),
        UniqueConstraint("event_id", name="event_outbox_event_id_key"),
        # The relay's claim walks this in id order.
        Index("ix_event_outbox_pending", "id", postgresql_where=text(_PENDING)),
        # Per-aggregate look-ups: earlier pending rows of a key held by another transaction.
        Index(
            "ix_event_outbox_pending_key",
            "aggregate_key",
            "id",
            postgresql_where=text(_PENDING),
        ),
        # Rows that failed at least once: the "earlier row of this key is backing off" probe
        # reads only these, so it stays cheap however large the backlog is.
        Index(
            "ix_event_outbox_retrying_key",
            "aggregate_key",
            "id",
            postgresql_where=text(f"{_PENDING} AND next_attempt_at IS NOT NULL"),
        ),
        # Dead rows wait for an operator; counting them must not scan published history.
        Index("ix_event_outbox_dead", "id", postgresql_where=text("dead_at IS NOT NULL")),
    ]


_metadata = MetaData()

outbox_table = Table(OUTBOX_TABLE_NAME, _metadata, *outbox_schema_items())


def include_outbox(metadata: MetaData) -> Table:
    """Add the outbox table to a service's metadata (for Alembic and the drift guard)."""
    return outbox_table.to_metadata(metadata)

"""Comparison requests (the durable record behind the Redis queue), outbox and inbox.

The database is the source of truth: Redis only orders the ids of rows in state `queued`, and
can be rebuilt from them. The provider's answer is persisted on the row (`response`) before
the callback is written, so a crash in between never calls the provider a second time.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    Numeric,
    SmallInteger,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from huleedu_service_libs.database import enum_type
from huleedu_service_libs.idempotency.inbox import include_inbox
from huleedu_service_libs.outbox import include_outbox


class RequestState(StrEnum):
    QUEUED = "queued"
    IN_FLIGHT = "in_flight"
    DONE = "done"  # answered with a verdict
    FAILED = "failed"  # answered with an error


metadata = MetaData()

comparison_requests = Table(
    "comparison_requests",
    metadata,
    Column("request_id", UUID(as_uuid=True), primary_key=True),
    Column("batch_id", UUID(as_uuid=True), nullable=False),
    Column(
        "state",
        enum_type(RequestState, "comparison_request_state"),
        nullable=False,
        server_default=RequestState.QUEUED.value,
    ),
    Column("callback_topic", Text, nullable=False),
    Column("correlation_id", UUID(as_uuid=True), nullable=True),
    Column("payload", JSONB, nullable=False),
    Column("priority", SmallInteger, nullable=False),
    Column("deadline", DateTime(timezone=True), nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("lease_expires_at", DateTime(timezone=True), nullable=True),
    Column("response", JSONB, nullable=True),
    Column("provider", Text, nullable=True),
    Column("model", Text, nullable=True),
    Column("input_tokens", Integer, nullable=False, server_default=text("0")),
    Column("output_tokens", Integer, nullable=False, server_default=text("0")),
    Column("cached_tokens", Integer, nullable=False, server_default=text("0")),
    Column("cost_usd", Numeric(18, 8), nullable=False, server_default=text("0")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_comparison_requests_batch", "batch_id"),
    Index("ix_comparison_requests_state", "state", "lease_expires_at"),
)

include_outbox(metadata)
include_inbox(metadata)

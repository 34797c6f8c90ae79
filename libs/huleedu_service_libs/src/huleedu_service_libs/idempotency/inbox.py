"""The `event_inbox` table: the database's own record that a consumer applied an event.

The inbox row is written in the handler's transaction, so "the effect happened" and "the
event was processed" commit or roll back together. It is what keeps the effect exactly-once
when Redis is down or a guard claim expired (invariant 2).
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from alembic.operations import Operations
from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Index,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.schema import SchemaItem

INBOX_TABLE = "event_inbox"

_metadata = MetaData()


def inbox_schema_items() -> list[SchemaItem]:
    """Fresh columns, constraints and indexes: the Table and the migration each need their own.

    Names are explicit so a service's naming convention cannot rename them in one place only.
    """
    return [
        Column("consumer", Text, nullable=False),
        Column("event_id", postgresql.UUID(as_uuid=True), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        PrimaryKeyConstraint("consumer", "event_id", name="event_inbox_pkey"),
        # The retention job deletes by age.
        Index("ix_event_inbox_processed_at", "processed_at"),
    ]


inbox_table = Table(INBOX_TABLE, _metadata, *inbox_schema_items())


def include_inbox(metadata: MetaData) -> Table:
    """Add the inbox table to a service's metadata (for Alembic and the drift guard)."""
    return inbox_table.to_metadata(metadata)


def create_inbox_table(op: Operations) -> None:
    """Alembic `upgrade` step that creates the inbox exactly as `inbox_table` describes it."""
    op.create_table(INBOX_TABLE, *inbox_schema_items())


def drop_inbox_table(op: Operations) -> None:
    """Alembic `downgrade` step matching `create_inbox_table` (its index goes with it)."""
    op.drop_table(INBOX_TABLE)


def _create(connection: Connection) -> None:
    inbox_table.create(connection, checkfirst=True)


async def create_inbox_schema(engine: AsyncEngine) -> None:
    """Create the inbox in a database that has no migrations (tests, benchmarks)."""
    async with engine.begin() as connection:
        await connection.run_sync(_create)


async def record_inbox(session: AsyncSession, consumer: str, event_id: UUID) -> bool:
    """Mark `event_id` processed by `consumer` in the session's transaction.

    True: first time, go on and apply the effect. False: already processed (or being
    processed by a concurrent transaction that then committed); apply nothing.
    """
    return (await record_inbox_many(session, consumer, [event_id]))[0]


async def record_inbox_many(
    session: AsyncSession, consumer: str, event_ids: Sequence[UUID]
) -> list[bool]:
    """`record_inbox` for several events in one statement: first time or not, in order.

    An id repeated in `event_ids` is a first time at most once, at its first place.
    """
    statement = (
        insert(inbox_table)
        .values([{"consumer": consumer, "event_id": event_id} for event_id in event_ids])
        .on_conflict_do_nothing(index_elements=["consumer", "event_id"])
        .returning(inbox_table.c.event_id)
    )
    fresh = set((await session.execute(statement)).scalars())
    first_times = []
    for event_id in event_ids:
        first_times.append(event_id in fresh)
        fresh.discard(event_id)
    return first_times

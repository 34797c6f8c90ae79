"""The outbox table in a service's Alembic migration, and in a test database without one.

A service's first migration calls `create_outbox_table(op)`; the table it creates is built from
the same items as `outbox_table`, so the drift check finds nothing to report.
"""

from __future__ import annotations

from alembic.operations import Operations
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from huleedu_service_libs.outbox.table import OUTBOX_TABLE_NAME, outbox_schema_items, outbox_table


def create_outbox_table(op: Operations) -> None:
    """Create `event_outbox` with its constraints and indexes (Alembic `upgrade`)."""
    op.create_table(OUTBOX_TABLE_NAME, *outbox_schema_items())


def drop_outbox_table(op: Operations) -> None:
    """Drop `event_outbox` and its indexes (Alembic `downgrade`)."""
    op.drop_table(OUTBOX_TABLE_NAME)


def _create(connection: Connection) -> None:
    outbox_table.create(connection, checkfirst=True)


async def create_outbox_schema(engine: AsyncEngine) -> None:
    """Create the outbox table in a database that has no migrations (tests, benchmarks)."""
    async with engine.begin() as connection:
        await connection.run_sync(_create)

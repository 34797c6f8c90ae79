"""Retention: published outbox rows and old inbox rows are deleted, so the tables stay small.

What is kept: every unpublished and every dead outbox row (an operator must see those), and
inbox rows younger than `inbox_retention`, which must outlast the broker's retention: a
redelivery of an event older than that cannot happen, so its inbox row no longer guards
anything. One replica prunes per round (a transaction-scoped advisory lock); deletes go in
chunks so a large backlog never holds long locks.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from dataclasses import dataclass
from datetime import timedelta

import structlog
from prometheus_client import CollectorRegistry
from sqlalchemy import func, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from huleedu_service_libs.idempotency.inbox import inbox_table
from huleedu_service_libs.metrics import REGISTRY, counter
from huleedu_service_libs.outbox.table import outbox_table

log = structlog.get_logger(__name__)

CHUNK_ROWS = 5_000


@dataclass(frozen=True)
class Pruned:
    outbox: int
    inbox: int


def retention_lock_key(service_name: str) -> int:
    """A stable signed 64-bit advisory-lock key, distinct from the relay's."""
    digest = hashlib.sha256(f"retention:{service_name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class RetentionJob:
    """Prunes the service's outbox and inbox every `interval_s` until stopped."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        service_name: str,
        outbox_retention: timedelta,
        inbox_retention: timedelta,
        interval_s: float = 600.0,
        registry: CollectorRegistry = REGISTRY,
    ) -> None:
        self._engine = engine
        self.service_name = service_name
        self._outbox_retention = outbox_retention
        self._inbox_retention = inbox_retention
        self._interval_s = interval_s
        self._pruned = counter(
            "huleedu_retention_pruned_rows_total",
            "Rows deleted by the retention job, by table.",
            ["service", "table"],
            registry=registry,
        )

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.prune_once()
            except Exception:  # retention must never stop a worker
                log.exception("retention_prune_failed", service=self.service_name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._interval_s)

    async def prune_once(self) -> Pruned:
        """One round; `Pruned(0, 0)` when another replica holds this round's lock."""
        outbox = inbox = 0
        while True:
            async with self._engine.begin() as connection:
                if not await self._locked(connection):
                    return Pruned(outbox, inbox)
                deleted_outbox = await self._prune_outbox(connection)
                deleted_inbox = await self._prune_inbox(connection)
            outbox += deleted_outbox
            inbox += deleted_inbox
            self._pruned.labels(self.service_name, "outbox").inc(deleted_outbox)
            self._pruned.labels(self.service_name, "inbox").inc(deleted_inbox)
            if deleted_outbox < CHUNK_ROWS and deleted_inbox < CHUNK_ROWS:
                if outbox or inbox:
                    log.info(
                        "retention_pruned", service=self.service_name, outbox=outbox, inbox=inbox
                    )
                return Pruned(outbox, inbox)

    async def _locked(self, connection: AsyncConnection) -> bool:
        key = retention_lock_key(self.service_name)
        result = await connection.execute(select(func.pg_try_advisory_xact_lock(key)))
        return bool(result.scalar_one())

    async def _prune_outbox(self, connection: AsyncConnection) -> int:
        if not await _table_exists(connection, outbox_table.name):
            return 0
        table = outbox_table
        doomed = (
            select(table.c.id)
            .where(table.c.published_at < func.now() - self._outbox_retention)
            .order_by(table.c.id)
            .limit(CHUNK_ROWS)
        )
        result = await connection.execute(table.delete().where(table.c.id.in_(doomed)))
        return int(result.rowcount or 0)

    async def _prune_inbox(self, connection: AsyncConnection) -> int:
        if not await _table_exists(connection, inbox_table.name):
            return 0
        table = inbox_table
        doomed = (
            select(table.c.consumer, table.c.event_id)
            .where(table.c.processed_at < func.now() - self._inbox_retention)
            .limit(CHUNK_ROWS)
        )
        result = await connection.execute(
            table.delete().where(tuple_(table.c.consumer, table.c.event_id).in_(doomed))
        )
        return int(result.rowcount or 0)


async def _table_exists(connection: AsyncConnection, name: str) -> bool:
    result = await connection.execute(text("SELECT to_regclass(:name) IS NOT NULL"), {"name": name})
    return bool(result.scalar_one())

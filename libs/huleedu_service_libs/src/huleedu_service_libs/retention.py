"""Retention: published outbox rows and old inbox rows are deleted, so the tables stay small.

A service may hand over its own expiring rows too (`ExpiringRows`: a table, its timestamp
column and how long a row lives), such as file_service's stored answers to retried uploads;
they are pruned in the same rounds, under the same lock, in the same chunks.

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
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import structlog
from prometheus_client import CollectorRegistry
from sqlalchemy import Table, func, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from huleedu_service_libs.idempotency.inbox import inbox_table
from huleedu_service_libs.metrics import REGISTRY, counter
from huleedu_service_libs.outbox.table import outbox_table

log = structlog.get_logger(__name__)

CHUNK_ROWS = 5_000


@dataclass(frozen=True)
class ExpiringRows:
    """A service's table whose rows are deleted once `timestamp` is older than `retention`."""

    table: Table
    timestamp: str
    retention: timedelta

    def __post_init__(self) -> None:
        if self.timestamp not in self.table.c:
            raise ValueError(f"{self.table.name} has no column {self.timestamp!r}")
        if not self.table.primary_key.columns:
            raise ValueError(f"{self.table.name} needs a primary key to be pruned in chunks")


@dataclass(frozen=True)
class Pruned:
    outbox: int
    inbox: int
    expired: dict[str, int] = field(default_factory=dict)  # by table name


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
        expiring: Sequence[ExpiringRows] = (),
        registry: CollectorRegistry = REGISTRY,
    ) -> None:
        self._engine = engine
        self.service_name = service_name
        self._outbox_retention = outbox_retention
        self._inbox_retention = inbox_retention
        self._interval_s = interval_s
        self._expiring = tuple(expiring)
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
        """One round; nothing deleted when another replica holds this round's lock."""
        totals = {"outbox": 0, "inbox": 0} | {rows.table.name: 0 for rows in self._expiring}
        while True:
            async with self._engine.begin() as connection:
                if not await self._locked(connection):
                    break
                deleted = {
                    "outbox": await self._prune_outbox(connection),
                    "inbox": await self._prune_inbox(connection),
                }
                for rows in self._expiring:
                    deleted[rows.table.name] = await _prune_expired(connection, rows)
            for table, count in deleted.items():
                totals[table] += count
                self._pruned.labels(self.service_name, table).inc(count)
            if max(deleted.values()) < CHUNK_ROWS:
                if any(totals.values()):
                    log.info("retention_pruned", service=self.service_name, **totals)
                break
        expired = {name: totals[name] for name in totals if name not in ("outbox", "inbox")}
        return Pruned(totals["outbox"], totals["inbox"], expired)

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


async def _prune_expired(connection: AsyncConnection, rows: ExpiringRows) -> int:
    table = rows.table
    key = list(table.primary_key.columns)
    doomed = (
        select(*key).where(table.c[rows.timestamp] < func.now() - rows.retention).limit(CHUNK_ROWS)
    )
    result = await connection.execute(table.delete().where(tuple_(*key).in_(doomed)))
    return int(result.rowcount or 0)


async def _table_exists(connection: AsyncConnection, name: str) -> bool:
    result = await connection.execute(text("SELECT to_regclass(:name) IS NOT NULL"), {"name": name})
    return bool(result.scalar_one())

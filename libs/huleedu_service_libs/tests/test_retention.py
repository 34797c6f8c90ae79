"""The retention job against a real Postgres: what it deletes, what it must keep."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import Column, DateTime, MetaData, Table, Text, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from huleedu_service_libs.database import create_engine
from huleedu_service_libs.idempotency import create_inbox_schema, inbox_table
from huleedu_service_libs.outbox import create_outbox_schema, outbox_table
from huleedu_service_libs.retention import (
    CHUNK_ROWS,
    ExpiringRows,
    RetentionJob,
    retention_lock_key,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def engine(database_url):
    engine = create_engine(database_url)
    await create_outbox_schema(engine)
    await create_inbox_schema(engine)
    yield engine
    await engine.dispose()


def _job(engine, registry=None, service_name=None) -> RetentionJob:
    return RetentionJob(
        engine,
        service_name=service_name or f"svc-{uuid.uuid4().hex[:6]}",
        outbox_retention=timedelta(days=7),
        inbox_retention=timedelta(days=14),
        registry=registry or CollectorRegistry(),
    )


async def _outbox_row(
    connection: AsyncConnection,
    *,
    published_days_ago: int | None = None,
    dead: bool = False,
    created_days_ago: int = 0,
) -> int:
    result = await connection.execute(
        insert(outbox_table)
        .values(
            event_id=uuid.uuid4(),
            event_type="test.thing",
            topic="t",
            payload={},
            created_at=func.now() - timedelta(days=created_days_ago),
            published_at=None
            if published_days_ago is None
            else func.now() - timedelta(days=published_days_ago),
            dead_at=func.now() - timedelta(days=30) if dead else None,
        )
        .returning(outbox_table.c.id)
    )
    return int(result.scalar_one())


async def test_prunes_old_published_rows_and_old_inbox_rows_only(engine) -> None:
    async with engine.begin() as connection:
        old_published = await _outbox_row(connection, published_days_ago=8, created_days_ago=8)
        recent_published = await _outbox_row(connection, published_days_ago=1)
        old_pending = await _outbox_row(connection, created_days_ago=30)
        old_dead = await _outbox_row(connection, dead=True, created_days_ago=30)
        old_event, recent_event = uuid.uuid4(), uuid.uuid4()
        await connection.execute(
            insert(inbox_table),
            [{"consumer": "c", "event_id": old_event}, {"consumer": "c", "event_id": recent_event}],
        )
        await connection.execute(
            update(inbox_table)
            .where(inbox_table.c.event_id == old_event)
            .values(processed_at=text("now() - interval '15 days'"))
        )
    registry = CollectorRegistry()
    job = _job(engine, registry)
    pruned = await job.prune_once()
    assert (pruned.outbox, pruned.inbox) == (1, 1)
    async with engine.connect() as connection:
        kept = set((await connection.execute(select(outbox_table.c.id))).scalars())
        inbox = set((await connection.execute(select(inbox_table.c.event_id))).scalars())
    assert kept == {recent_published, old_pending, old_dead}
    assert old_published not in kept
    assert inbox == {recent_event}
    for table in ("outbox", "inbox"):
        labels = {"service": job.service_name, "table": table}
        assert registry.get_sample_value("huleedu_retention_pruned_rows_total", labels) == 1.0


async def test_deletes_in_chunks_until_nothing_old_is_left(engine) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO event_outbox (event_id, event_type, topic, payload, published_at) "
                "SELECT gen_random_uuid(), 'test.thing', 't', '{}'::jsonb, "
                "now() - interval '9 days' FROM generate_series(1, :n)"
            ),
            {"n": CHUNK_ROWS + 7},
        )
    assert (await _job(engine).prune_once()).outbox == CHUNK_ROWS + 7
    async with engine.connect() as connection:
        assert (
            await connection.execute(select(func.count()).select_from(outbox_table))
        ).scalar() == 0


async def test_one_replica_prunes_while_another_holds_the_round(engine) -> None:
    job = _job(engine)
    async with engine.begin() as connection:
        await _outbox_row(connection, published_days_ago=8, created_days_ago=8)
    other = _job(engine, service_name=job.service_name)  # the same service, another replica
    async with engine.begin() as holder:
        key = retention_lock_key(job.service_name)
        await holder.execute(select(func.pg_advisory_xact_lock(key)))
        assert (await other.prune_once()).outbox == 0
    assert (await job.prune_once()).outbox == 1


async def test_run_stops_promptly_when_asked(engine) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(_job(engine).run(stop))
    await asyncio.sleep(0.1)
    stop.set()
    await asyncio.wait_for(task, timeout=5)


async def test_a_services_own_expiring_rows_are_pruned_with_the_outbox(engine) -> None:
    answers = Table(
        f"answers_{uuid.uuid4().hex[:6]}",
        MetaData(),
        Column("owner", Text, primary_key=True),
        Column("key", Text, primary_key=True),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    async with engine.begin() as connection:
        await connection.run_sync(answers.create)
        for owner, key, hours_ago in (("t1", "old", 80), ("t2", "old", 73), ("t1", "new", 71)):
            await connection.execute(
                insert(answers).values(
                    owner=owner, key=key, created_at=func.now() - timedelta(hours=hours_ago)
                )
            )
    registry = CollectorRegistry()
    job = RetentionJob(
        engine,
        service_name=f"svc-{uuid.uuid4().hex[:6]}",
        outbox_retention=timedelta(days=7),
        inbox_retention=timedelta(days=14),
        expiring=[ExpiringRows(answers, "created_at", timedelta(hours=72))],
        registry=registry,
    )
    assert (await job.prune_once()).expired == {answers.name: 2}
    async with engine.connect() as connection:
        left = (await connection.execute(select(answers.c.owner, answers.c.key))).all()
    assert [tuple(row) for row in left] == [("t1", "new")]
    labels = {"service": job.service_name, "table": answers.name}
    assert registry.get_sample_value("huleedu_retention_pruned_rows_total", labels) == 2.0
    assert (await job.prune_once()).expired == {answers.name: 0}


def test_expiring_rows_need_their_timestamp_column_and_a_primary_key() -> None:
    keyed = Table("keyed", MetaData(), Column("id", Text, primary_key=True))
    with pytest.raises(ValueError, match="no column"):
        ExpiringRows(keyed, "created_at", timedelta(hours=1))
    keyless = Table("keyless", MetaData(), Column("at", DateTime(timezone=True)))
    with pytest.raises(ValueError, match="primary key"):
        ExpiringRows(keyless, "at", timedelta(hours=1))

"""The database inbox against a real Postgres: first write wins, concurrent writers wait."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import Connection, MetaData, inspect, text

from huleedu_service_libs.database import create_engine, create_session_factory
from huleedu_service_libs.idempotency import (
    create_inbox_schema,
    create_inbox_table,
    drop_inbox_table,
    include_inbox,
    record_inbox,
    record_inbox_many,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def sessions(database_url):
    engine = create_engine(database_url)
    await create_inbox_schema(engine)
    yield create_session_factory(engine)
    await engine.dispose()


async def test_first_record_wins_per_consumer(sessions) -> None:
    event_id = uuid.uuid4()
    async with sessions() as session, session.begin():
        assert await record_inbox(session, "a", event_id)
    async with sessions() as session, session.begin():
        assert not await record_inbox(session, "a", event_id)
        assert await record_inbox(session, "b", event_id)


async def test_many_records_in_one_statement_keep_their_order(sessions) -> None:
    seen, new, repeated = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    async with sessions() as session, session.begin():
        assert await record_inbox(session, "a", seen)
    async with sessions() as session, session.begin():
        first_times = await record_inbox_many(session, "a", [new, seen, repeated, repeated])
    assert first_times == [True, False, True, False]
    async with sessions() as session, session.begin():
        assert await record_inbox_many(session, "a", [repeated, new]) == [False, False]


async def test_rolled_back_record_leaves_the_event_unprocessed(sessions) -> None:
    event_id = uuid.uuid4()
    async with sessions() as session, session.begin():
        assert await record_inbox(session, "a", event_id)
        await session.rollback()
    async with sessions() as session, session.begin():
        assert await record_inbox(session, "a", event_id)


@pytest.mark.parametrize(("first_commits", "second_is_first"), [(True, False), (False, True)])
async def test_concurrent_writer_waits_for_the_first_transaction(
    sessions, first_commits: bool, second_is_first: bool
) -> None:
    event_id = uuid.uuid4()
    async with sessions() as first, sessions() as second:
        await first.begin()
        assert await record_inbox(first, "a", event_id)
        await second.begin()
        backend = (await second.execute(text("select pg_backend_pid()"))).scalar_one()
        racing = asyncio.create_task(record_inbox(second, "a", event_id))
        # The second insert blocks on the first's uncommitted row.
        await _eventually(lambda: _waits_on_a_lock(sessions, backend))
        assert not racing.done()
        if first_commits:
            await first.commit()
        else:
            await first.rollback()
        assert await racing is second_is_first
        await second.commit()


async def _waits_on_a_lock(sessions, backend: int) -> bool:
    async with sessions() as observer:
        waiting = await observer.execute(
            text("select wait_event_type = 'Lock' from pg_stat_activity where pid = :p"),
            {"p": backend},
        )
        return bool(waiting.scalar_one())


async def _eventually(condition, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition never held")


def _migrate_and_compare(connection: Connection) -> tuple[list[object], list[str]]:
    operations = Operations(MigrationContext.configure(connection))
    create_inbox_table(operations)
    metadata = MetaData()
    include_inbox(metadata)
    diffs = compare_metadata(MigrationContext.configure(connection), metadata)
    drop_inbox_table(operations)
    return list(diffs), inspect(connection).get_table_names()


async def test_migration_helpers_build_exactly_the_model(database_url) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            diffs, tables_after_drop = await conn.run_sync(_migrate_and_compare)
    finally:
        await engine.dispose()
    assert diffs == []
    assert "event_inbox" not in tables_after_drop

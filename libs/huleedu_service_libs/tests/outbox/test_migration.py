"""The Alembic helper creates exactly the table the model describes (no drift)."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import Connection, MetaData, inspect

from huleedu_service_libs.database import create_engine
from huleedu_service_libs.outbox import (
    OUTBOX_TABLE_NAME,
    create_outbox_schema,
    create_outbox_table,
    drop_outbox_table,
    include_outbox,
)
from huleedu_service_libs.schema_drift import find_drift

pytestmark = pytest.mark.integration

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "pk": "pk_%(table_name)s",
}


def _context(connection: Connection, metadata: MetaData) -> MigrationContext:
    return MigrationContext.configure(
        connection,
        opts={"target_metadata": metadata, "compare_type": True, "compare_server_default": True},
    )


def _migrate_and_compare(connection: Connection, metadata: MetaData) -> list[Any]:
    context = _context(connection, metadata)
    create_outbox_table(Operations(context))
    return list(compare_metadata(context, metadata))


def _indexes_and_drop(connection: Connection, metadata: MetaData) -> list[str]:
    names = sorted(index["name"] or "" for index in inspect(connection).get_indexes("event_outbox"))
    drop_outbox_table(Operations(_context(connection, metadata)))
    assert not inspect(connection).has_table(OUTBOX_TABLE_NAME)
    return names


@pytest.mark.parametrize("convention", [None, NAMING_CONVENTION], ids=["plain", "conventions"])
async def test_the_migrated_table_matches_the_model(
    database_url: str, convention: dict[str, str] | None
) -> None:
    metadata = MetaData(naming_convention=convention) if convention else MetaData()
    include_outbox(metadata)
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            diffs = await connection.run_sync(_migrate_and_compare, metadata)
        drift = await find_drift(engine, metadata)
        async with engine.begin() as connection:
            indexes = await connection.run_sync(_indexes_and_drop, metadata)
    finally:
        await engine.dispose()

    assert diffs == []
    assert drift == []
    assert indexes == [
        "event_outbox_event_id_key",
        "ix_event_outbox_dead",
        "ix_event_outbox_pending",
        "ix_event_outbox_pending_key",
        "ix_event_outbox_retrying_key",
    ]


def _compare(connection: Connection, metadata: MetaData) -> list[Any]:
    return list(compare_metadata(_context(connection, metadata), metadata))


async def test_the_test_schema_helper_matches_the_model_and_is_repeatable(
    database_url: str,
) -> None:
    metadata = MetaData()
    include_outbox(metadata)
    engine = create_engine(database_url)
    try:
        await create_outbox_schema(engine)
        await create_outbox_schema(engine)
        async with engine.connect() as connection:
            diffs = await connection.run_sync(_compare, metadata)
    finally:
        await engine.dispose()
    assert diffs == []

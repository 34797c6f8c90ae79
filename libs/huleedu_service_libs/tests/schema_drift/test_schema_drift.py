"""The drift guard and the migration check, on a sample service's models and migrations."""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import AsyncIterator
from enum import StrEnum
from pathlib import Path
from types import ModuleType

import pytest
from alembic import command
from sqlalchemy import Column, Enum, Integer, MetaData, Table, Text, text
from sqlalchemy.ext.asyncio import AsyncEngine

from huleedu_service_libs.database import create_engine, enum_type
from huleedu_service_libs.migrations import alembic_config, downgrade_to_base, upgrade_to_head
from huleedu_service_libs.outbox.table import include_outbox
from huleedu_service_libs.schema_drift import SchemaDriftError, assert_no_drift, find_drift
from huleedu_service_libs.testing.schema_drift import check_migrations_match_models

pytestmark = pytest.mark.integration

SAMPLE = Path(__file__).parent / "sample_service"
ALEMBIC_DIR = SAMPLE / "migrations"


def load_sample_models() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sample_service_models", SAMPLE / "models.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


models = load_sample_models()


def copy_of_models() -> MetaData:
    copy = MetaData(naming_convention=models.metadata.naming_convention)
    for table in models.metadata.sorted_tables:
        table.to_metadata(copy)
    return copy


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, pool_size=1)
    yield engine
    await engine.dispose()


@pytest.fixture
async def migrated(database_url: str, engine: AsyncEngine) -> AsyncEngine:
    await upgrade_to_head(database_url, ALEMBIC_DIR)
    return engine


async def execute(engine: AsyncEngine, *statements: str) -> None:
    async with engine.begin() as conn:
        for statement in statements:
            await conn.execute(text(statement))


async def test_sample_migrations_match_their_models(database_url: str) -> None:
    await check_migrations_match_models(database_url, ALEMBIC_DIR, models.metadata)


async def test_migrated_database_has_no_drift(migrated: AsyncEngine) -> None:
    assert await find_drift(migrated, models.metadata) == []
    await assert_no_drift(migrated, models.metadata)


async def test_missing_column_is_reported(migrated: AsyncEngine) -> None:
    await execute(migrated, "ALTER TABLE essays DROP COLUMN word_count")

    assert await find_drift(migrated, models.metadata) == [
        "column essays.word_count is in the models but not in the database"
    ]
    with pytest.raises(SchemaDriftError) as raised:
        await assert_no_drift(migrated, models.metadata)
    assert str(raised.value) == (
        "database schema does not match the models:\n"
        "  - column essays.word_count is in the models but not in the database"
    )


async def test_extra_table_column_type_and_nullability_are_reported(
    migrated: AsyncEngine,
) -> None:
    await execute(
        migrated,
        "ALTER TABLE essays ADD COLUMN legacy_score integer",
        "ALTER TABLE batches ALTER COLUMN name DROP NOT NULL",
        "ALTER TABLE essays ALTER COLUMN slot TYPE bigint",
        "CREATE TABLE leftovers (id integer PRIMARY KEY)",
    )

    problems = await find_drift(migrated, models.metadata)

    assert "table leftovers is in the database but not in the models" in problems
    assert "column essays.legacy_score is in the database but not in the models" in problems
    assert any(
        p.startswith("column batches.name: nullable is True in the database") for p in problems
    )
    assert any(p.startswith("column essays.slot: type is BIGINT") for p in problems)
    assert len(problems) == 4


async def test_missing_index_and_unique_constraint_are_reported(migrated: AsyncEngine) -> None:
    await execute(
        migrated,
        "DROP INDEX ix_essays_batch_id",
        "ALTER TABLE essays DROP CONSTRAINT uq_essays_batch_id_slot",
    )

    assert sorted(await find_drift(migrated, models.metadata)) == [
        "index ix_essays_batch_id on essays (batch_id) is in the models but not in the database",
        "unique constraint uq_essays_batch_id_slot on essays (batch_id, slot) is in the models"
        " but not in the database",
    ]


async def test_enum_label_missing_from_and_extra_in_the_database(migrated: AsyncEngine) -> None:
    await execute(migrated, "ALTER TYPE essay_status RENAME VALUE 'failed' TO 'errored'")

    assert await find_drift(migrated, models.metadata) == [
        "enum essay_status: value 'failed' is in the models but not in the database",
        "enum essay_status: value 'errored' is in the database but not in the models",
    ]


async def test_enum_value_added_in_python_but_not_migrated(migrated: AsyncEngine) -> None:
    class GrownEssayStatus(StrEnum):
        AWAITING_CONTENT = "awaiting_content"
        READY = "ready"
        SPELLCHECKED = "spellchecked"
        FAILED = "failed"
        ARCHIVED = "archived"

    metadata = copy_of_models()
    metadata.tables["essays"].c.status.type = enum_type(GrownEssayStatus, "essay_status")

    assert await find_drift(migrated, metadata) == [
        "enum essay_status: value 'archived' is in the models but not in the database"
    ]


async def test_enum_types_missing_from_or_extra_in_the_database(migrated: AsyncEngine) -> None:
    await execute(
        migrated,
        "ALTER TABLE batches DROP COLUMN current_phase",
        "DROP TYPE batch_phase",
        "CREATE TYPE stray_status AS ENUM ('a', 'b')",
    )
    metadata = copy_of_models()
    Table("phases_only", metadata, Column("phase", metadata.tables["batches"].c.current_phase.type))

    problems = await find_drift(migrated, metadata)

    assert "enum type batch_phase is in the models but not in the database" in problems
    assert "enum type stray_status is in the database but not in the models" in problems


async def test_outbox_table_built_from_its_definition_shows_no_drift(engine: AsyncEngine) -> None:
    metadata = MetaData()
    include_outbox(metadata)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)

    assert await find_drift(engine, metadata) == []


async def test_check_fails_when_models_are_ahead_of_migrations(database_url: str) -> None:
    metadata = copy_of_models()
    metadata.tables["essays"].append_column(Column("grade", Text, nullable=True))

    with pytest.raises(AssertionError) as raised:
        await check_migrations_match_models(database_url, ALEMBIC_DIR, metadata)
    assert "after upgrade to head" in str(raised.value)
    assert "column essays.grade is in the models but not in the database" in str(raised.value)


async def test_check_refuses_a_database_that_is_not_empty(
    database_url: str, engine: AsyncEngine
) -> None:
    await execute(engine, "CREATE TABLE already_here (id integer)")

    with pytest.raises(AssertionError, match=r"not empty.*already_here"):
        await check_migrations_match_models(database_url, ALEMBIC_DIR, models.metadata)


IRREVERSIBLE_ENV = """
from sqlalchemy import MetaData
from huleedu_service_libs.migrations import run_migrations_online

run_migrations_online(MetaData())
"""

IRREVERSIBLE_REVISION = '''
"""Creates an enum type that downgrade forgets."""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "i0001"
down_revision = None
branch_labels = None
depends_on = None

kind = postgresql.ENUM("a", "b", name="leftover_kind", create_type=False)


def upgrade() -> None:
    kind.create(op.get_bind())
    op.create_table("things", sa.Column("id", sa.Integer(), primary_key=True),
                    sa.Column("kind", kind, nullable=False))


def downgrade() -> None:
    op.drop_table("things")
'''


async def test_check_fails_when_downgrade_leaves_objects_behind(
    database_url: str, tmp_path: Path
) -> None:
    (tmp_path / "versions").mkdir()
    (tmp_path / "env.py").write_text(IRREVERSIBLE_ENV)
    (tmp_path / "versions" / "i0001_things.py").write_text(IRREVERSIBLE_REVISION)
    metadata = MetaData()
    kind = Enum("a", "b", name="leftover_kind")
    Table(
        "things",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("kind", kind, nullable=False),
    )

    with pytest.raises(AssertionError) as raised:
        await check_migrations_match_models(database_url, tmp_path, metadata)
    assert "downgrade to base left behind: ['type leftover_kind']" in str(raised.value)


async def test_env_runs_on_its_own_event_loop_like_the_alembic_cli(
    database_url: str, engine: AsyncEngine
) -> None:
    config = alembic_config(ALEMBIC_DIR, database_url)
    # The CLI has no running loop; a worker thread stands in for it.
    await asyncio.to_thread(command.upgrade, config, "head")
    assert await find_drift(engine, models.metadata) == []

    await downgrade_to_base(database_url, ALEMBIC_DIR)
    async with engine.connect() as conn:
        tables = await conn.scalars(
            text(
                "SELECT table_name FROM information_schema.tables"
                " WHERE table_schema = current_schema()"
            )
        )
        assert set(tables) == {"alembic_version"}

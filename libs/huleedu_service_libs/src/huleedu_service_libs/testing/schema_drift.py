"""The migration test every service runs on its own migrations (invariant 5).

In a service's tests:

    async def test_migrations_match_models(database_url: str) -> None:
        await check_migrations_match_models(database_url, ALEMBIC_DIR, metadata)
"""

from __future__ import annotations

from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, pool, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from huleedu_service_libs.migrations import alembic_config, downgrade_to_base, upgrade_to_head
from huleedu_service_libs.schema_drift import SchemaDriftError, assert_no_drift

_VERSION_TABLE = "alembic_version"


async def check_migrations_match_models(
    database_url: str, alembic_dir: Path, metadata: MetaData
) -> None:
    """Fail (AssertionError) unless the migrations build exactly the models and undo cleanly.

    On an empty database: one head; upgrade to head matches the models (enum values too);
    downgrade to base leaves no table or enum type behind; upgrading again still matches.
    """
    heads = ScriptDirectory.from_config(alembic_config(alembic_dir)).get_heads()
    assert len(heads) == 1, f"migrations must have exactly one head, found {sorted(heads)}"

    engine = create_async_engine(database_url, poolclass=pool.NullPool)
    try:
        leftovers = await _schema_objects(engine)
        assert not leftovers, f"the database is not empty: {leftovers}"

        await upgrade_to_head(database_url, alembic_dir)
        await _assert_matches(engine, metadata, "after upgrade to head")

        await downgrade_to_base(database_url, alembic_dir)
        leftovers = await _schema_objects(engine)
        assert not leftovers, f"downgrade to base left behind: {leftovers}"

        await upgrade_to_head(database_url, alembic_dir)
        await _assert_matches(engine, metadata, "after downgrade to base and upgrade again")
    finally:
        await engine.dispose()


async def _assert_matches(engine: AsyncEngine, metadata: MetaData, when: str) -> None:
    try:
        await assert_no_drift(engine, metadata)
    except SchemaDriftError as error:
        raise AssertionError(f"{when}: {error}") from None


async def _schema_objects(engine: AsyncEngine) -> list[str]:
    """Tables, views, sequences, enums and domains in the schema, except Alembic's own table."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT 'table ' || table_name FROM information_schema.tables"
                " WHERE table_schema = current_schema() AND table_name <> :version_table"
                " UNION ALL"
                " SELECT 'sequence ' || sequence_name FROM information_schema.sequences"
                " WHERE sequence_schema = current_schema()"
                " UNION ALL"
                " SELECT 'type ' || t.typname FROM pg_type t"
                " JOIN pg_namespace n ON n.oid = t.typnamespace"
                " WHERE n.nspname = current_schema() AND t.typtype IN ('e', 'd')"
                " ORDER BY 1"
            ),
            {"version_table": _VERSION_TABLE},
        )
        return [str(row[0]) for row in rows]

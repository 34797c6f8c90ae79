"""Alembic, run the same way by every service: from code (start-up, tests) and from the CLI.

A service's `env.py` is two lines:

    from huleedu_service_libs.migrations import run_migrations_online
    from my_service.models import metadata

    run_migrations_online(metadata)

From code, `upgrade_to_head(database_url, alembic_dir)` hands Alembic an open connection, so it
works inside a running event loop. From the CLI (`alembic upgrade head`), the URL comes from
the `DATABASE_URL` environment variable, else from `sqlalchemy.url` in the Alembic config.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

CONNECTION_ATTRIBUTE = "connection"


def alembic_config(alembic_dir: Path, database_url: str | None = None) -> Config:
    """An Alembic config without an ini file: the script directory and, optionally, the URL."""
    config = Config()
    config.set_main_option("script_location", str(alembic_dir))
    if database_url is not None:
        # configparser interpolation: a literal '%' (URL-encoded passwords) must be doubled.
        config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


async def upgrade_to_head(database_url: str, alembic_dir: Path) -> None:
    await _run_command(database_url, alembic_dir, lambda config: command.upgrade(config, "head"))


async def downgrade_to_base(database_url: str, alembic_dir: Path) -> None:
    await _run_command(database_url, alembic_dir, lambda config: command.downgrade(config, "base"))


async def _run_command(
    database_url: str, alembic_dir: Path, operation: Callable[[Config], None]
) -> None:
    engine = create_async_engine(database_url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as conn:

            def run(sync_connection: Connection) -> None:
                config = alembic_config(alembic_dir, database_url)
                config.attributes[CONNECTION_ATTRIBUTE] = sync_connection
                operation(config)

            await conn.run_sync(run)
            await conn.commit()
    finally:
        await engine.dispose()


def run_migrations_online(target_metadata: MetaData | None, **configure_options: Any) -> None:
    """The body of a service's `env.py`; `configure_options` go to `context.configure`."""
    config = context.config
    connection = config.attributes.get(CONNECTION_ATTRIBUTE)
    if context.is_offline_mode():
        context.configure(
            url=_database_url(config),
            target_metadata=target_metadata,
            literal_binds=True,
            dialect_opts={"paramstyle": "named"},
            **configure_options,
        )
        with context.begin_transaction():
            context.run_migrations()
    elif connection is not None:
        _migrate(connection, target_metadata, configure_options)
    else:
        asyncio.run(_migrate_async(_database_url(config), target_metadata, configure_options))


def _database_url(config: Config) -> str:
    url = os.environ.get("DATABASE_URL") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set DATABASE_URL (or sqlalchemy.url in the Alembic config)")
    return url


def _migrate(
    connection: Connection, target_metadata: MetaData | None, options: dict[str, Any]
) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, **options)
    with context.begin_transaction():
        context.run_migrations()


async def _migrate_async(
    database_url: str, target_metadata: MetaData | None, options: dict[str, Any]
) -> None:
    engine = create_async_engine(database_url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_migrate, target_metadata, options)
            await conn.commit()
    finally:
        await engine.dispose()

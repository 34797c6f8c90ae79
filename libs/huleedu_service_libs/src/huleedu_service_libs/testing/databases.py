"""Create and drop the throwaway databases a test run uses."""

from __future__ import annotations

import asyncpg
from sqlalchemy.engine import make_url

from huleedu_service_libs.local_infra.probes import asyncpg_dsn


def database_url(server_url: str, database: str) -> str:
    """The same server, another database."""
    return make_url(server_url).set(database=database).render_as_string(hide_password=False)


async def create_database(server_url: str, database: str) -> str:
    conn = await asyncpg.connect(asyncpg_dsn(database_url(server_url, "postgres")))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{database}"')
    finally:
        await conn.close()
    return database_url(server_url, database)


async def drop_database(server_url: str, database: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(database_url(server_url, "postgres")))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        await conn.close()

"""The shared engine against a real Postgres: connections the server closed are replaced."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from huleedu_service_libs.database import create_engine

pytestmark = pytest.mark.integration


async def test_a_connection_the_server_closed_is_replaced_on_checkout(database_url: str) -> None:
    engine = create_engine(database_url, pool_size=1)
    other = create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as connection:
            backend = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            pooled = (await connection.get_raw_connection()).driver_connection
            assert pooled is not None
        async with other.connect() as connection:
            await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
        for _ in range(100):  # asyncpg learns of the close on the event loop, as on a restart
            if pooled.is_closed():
                break
            await asyncio.sleep(0.01)
        async with engine.begin() as connection:
            replacement = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        assert replacement != backend
    finally:
        await engine.dispose()
        await other.dispose()

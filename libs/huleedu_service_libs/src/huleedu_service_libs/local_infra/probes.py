"""Readiness probes: each answers whether a server is ready to serve, never raises."""

from __future__ import annotations

import asyncio
import logging
import socket

import asyncpg
import redis.asyncio as aioredis
from aiokafka.admin import AIOKafkaAdminClient


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def asyncpg_dsn(sqlalchemy_url: str) -> str:
    """asyncpg wants `postgresql://`; our settings use SQLAlchemy's `postgresql+asyncpg://`."""
    return sqlalchemy_url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def postgres_ready(url: str) -> bool:
    try:
        conn = await asyncpg.connect(asyncpg_dsn(url), timeout=2)
    except (TimeoutError, OSError, asyncpg.PostgresError):
        return False
    try:
        await conn.fetchval("SELECT 1")
        return True
    finally:
        await conn.close()


async def redis_ready(url: str) -> bool:
    client = aioredis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        return bool(await client.ping())
    except (OSError, aioredis.RedisError):
        return False
    finally:
        await client.aclose()


async def kafka_ready(bootstrap_servers: str) -> bool:
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=3000)
    try:
        await asyncio.wait_for(admin.start(), timeout=5)
        await asyncio.wait_for(admin.list_topics(), timeout=5)
        return True
    except Exception:  # any failure to talk to it means "not ready yet"
        return False
    finally:
        await admin.close()

"""Async database access and the Unit of Work that wraps every handler."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from enum import StrEnum
from types import TracebackType
from typing import Any, Self
from uuid import UUID

from pydantic import BaseModel
from sqlalchemy import Enum, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

from common_core.events.envelope import EventEnvelope, EventMetadata
from huleedu_service_libs.outbox.writer import OutboxWriter

_log = logging.getLogger(__name__)


def create_engine(database_url: str, *, pool_size: int = 10, **kwargs: Any) -> AsyncEngine:
    """An asyncpg engine whose pool replaces connections the server closed.

    A restarted database does not poison the pool: its connections were closed by the server,
    which asyncpg notices on the event loop, so checkout looks at the connection's state. That
    costs no round trip, where `pool_pre_ping` costs three per checkout (BEGIN, ping, ROLLBACK).
    """
    engine = create_async_engine(database_url, pool_size=pool_size, future=True, **kwargs)
    event.listen(engine.sync_engine, "checkout", _refuse_closed_connection)
    return engine


def _refuse_closed_connection(
    dbapi_connection: Any, record: ConnectionPoolEntry, proxy: PoolProxiedConnection
) -> None:
    """Checkout hook: the pool discards a closed connection and checks out a new one."""
    if record.driver_connection is None or record.driver_connection.is_closed():
        raise DisconnectionError("connection closed by the server")


def enum_type(enum: type[StrEnum], name: str) -> Enum:
    """A Postgres enum whose labels are the Python enum's values (the source of truth).

    SQLAlchemy stores member names by default; values keep the database readable and let the
    drift guard compare labels with `common_core` directly.
    """
    return Enum(
        enum,
        name=name,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


class UnitOfWork:
    """One transaction that holds a state change, the events it causes and the inbox row.

    Handlers change state through `session`, record events with `publish`, and the consumer
    loop commits. Nothing reaches Kafka unless the transaction commits (invariant 1).
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession], outbox: OutboxWriter) -> None:
        self._sessions = sessions
        self._outbox = outbox
        self._session: AsyncSession | None = None
        self._committed = False
        self._after_commit: list[Callable[[], Awaitable[None]]] = []

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("UnitOfWork used outside `async with`")
        return self._session

    async def __aenter__(self) -> Self:
        self._session = self._sessions()
        self._committed = False
        self._after_commit = []
        await self._session.begin()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session = self.session
        try:
            if not self._committed:
                await session.rollback()
        finally:
            await session.close()
            self._session = None

    async def publish(
        self,
        data: BaseModel,
        *,
        correlation_id: UUID | None = None,
        metadata: EventMetadata | None = None,
    ) -> EventEnvelope[Any]:
        """Record an event in the outbox, inside this transaction."""
        return await self._outbox.add(
            self.session, data, correlation_id=correlation_id, metadata=metadata
        )

    async def publish_many(
        self,
        data: Sequence[BaseModel],
        *,
        correlation_id: UUID | None = None,
        metadata: EventMetadata | None = None,
    ) -> list[EventEnvelope[Any]]:
        """Record several events in the outbox with one statement, inside this transaction."""
        return await self._outbox.add_many(
            self.session, data, correlation_id=correlation_id, metadata=metadata
        )

    def after_commit(self, action: Callable[[], Awaitable[None]]) -> None:
        """Run `action` once this transaction has committed; never if it rolls back.

        For side effects outside the database that must not announce uncommitted state (a
        live-progress notice, say). Best effort: a failing action is not retried, so it must
        only ever be a hint that a reader can recover from the database.
        """
        self._after_commit.append(action)

    async def commit(self) -> None:
        await self.session.commit()
        self._committed = True
        actions, self._after_commit = self._after_commit, []
        for action in actions:
            try:
                await action()
            except Exception:
                _log.warning("after_commit_action_failed", exc_info=True)

    async def rollback(self) -> None:
        await self.session.rollback()

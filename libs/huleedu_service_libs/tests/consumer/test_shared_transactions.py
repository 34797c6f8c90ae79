"""Consecutive ready messages share one transaction, and lose none of the single path's rules."""

from __future__ import annotations

import uuid
from collections import Counter

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, event, insert, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import registry as orm_registry

from huleedu_service_libs.database import create_engine, create_session_factory
from huleedu_service_libs.kafka.consumer import _attributable

pytestmark = pytest.mark.integration

_tally_metadata = MetaData()
tallies = Table(
    "tallies", _tally_metadata, Column("id", Integer, primary_key=True), Column("n", Integer)
)


class Tally:
    """An ORM row the handlers read through the session's identity map."""

    id: int
    n: int


orm_registry().map_imperatively(Tally, tallies)


async def _committed(h, expected: dict[int, int]) -> bool:
    return bool(await h.committed_offsets() == expected)


async def test_a_burst_is_committed_in_a_few_transactions_each_effect_once(
    harness_factory,
) -> None:
    h = await harness_factory()
    envelopes = [h.envelope(f"essay-{i}") for i in range(40)]
    for envelope in envelopes:
        await h.produce(envelope)
    engine = create_engine(h.settings.database_url)
    commits: list[int] = []
    event.listen(engine.sync_engine, "commit", lambda _conn: commits.append(1))
    handler = h.handler()
    try:
        loop = h.loop(handler, guard=h.guard(), sessions=create_session_factory(engine))
        async with h.running(loop):
            await h.wait_until(lambda: _committed(h, {0: 40}), what="all offsets committed")
    finally:
        await engine.dispose()

    assert await h.effect_items() == [f"essay-{i}" for i in range(40)]
    assert handler.calls == [e.event_id for e in envelopes]  # nothing failed: each ran once
    # At most 20 messages are claimed (and so handled) together; 40 need two commits at best.
    assert 2 <= len(commits) <= 10


async def test_a_failing_message_counts_its_own_attempts_and_the_others_commit_once(
    harness_factory,
) -> None:
    h = await harness_factory()
    items = ["a", "b", "poison", "c", "d"]
    envelopes = [h.envelope(item) for item in items]
    for envelope in envelopes:
        await h.produce(envelope)
    handler = h.handler(poison=frozenset({"poison"}))

    async with h.running(h.loop(handler, guard=h.guard(), max_attempts=3)):
        await h.wait_until(lambda: _committed(h, {0: 5}), what="all offsets committed")

    [letter] = await h.dead_letters(1)
    assert letter.error.details["event_id"] == str(envelopes[2].event_id)
    assert letter.error.details["attempts"] == 3
    calls = Counter(handler.items)
    assert calls["poison"] == 3  # once per delivery, as on the single-message path
    assert calls["a"] == calls["b"] == 2  # their first run was rolled back with the poison's
    assert calls["c"] == calls["d"] == 1
    assert await h.effect_items() == ["a", "b", "c", "d"]


async def test_a_redelivered_event_in_a_shared_transaction_is_stopped_by_the_inbox(
    harness_factory,
) -> None:
    h = await harness_factory()
    first, second = h.envelope("essay-1"), h.envelope("essay-2")
    for envelope in (first, second, first):
        await h.produce(envelope)
    handler = h.handler()

    async with h.running(h.loop(handler, guard=None)):  # no Redis: only the inbox knows
        await h.wait_until(lambda: _committed(h, {0: 3}), what="all offsets committed")

    assert handler.calls == [first.event_id, second.event_id]
    assert await h.effect_items() == ["essay-1", "essay-2"]


async def test_each_handler_reads_the_database_not_the_previous_handlers_objects(
    harness_factory,
) -> None:
    h = await harness_factory()
    async with h.engine.begin() as conn:
        await conn.run_sync(_tally_metadata.create_all)
        await conn.execute(insert(tallies).values(id=1, n=0))
    seen: list[int] = []
    # A handler's objects can outlive it (a reference cycle waits for the garbage collector);
    # while they live, the session's identity map would hand them to the next handler.
    kept: list[Tally] = []

    async def count(_envelope, uow) -> None:
        tally = await uow.session.get(Tally, 1)
        assert tally is not None
        seen.append(tally.n)
        kept.append(tally)
        # Plain SQL bypasses the loaded object: a stale identity map would miss the change.
        await uow.session.execute(text("UPDATE tallies SET n = n + 1 WHERE id = 1"))

    for i in range(3):
        await h.produce(h.envelope(f"essay-{i}", batch_id=uuid.uuid4()))
    async with h.running(h.loop(h.handler(during=count), guard=h.guard())):
        await h.wait_until(lambda: _committed(h, {0: 3}), what="all offsets committed")

    assert seen == [0, 1, 2]


class _PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("exc", "attributable"),
    [
        (RuntimeError("handler bug"), True),
        (DBAPIError("INSERT", {}, _PgError("23505")), True),  # its own unique violation
        (DBAPIError("UPDATE", {}, _PgError("40P01")), False),  # deadlock with another consumer
        (DBAPIError("UPDATE", {}, _PgError("40001")), False),  # serialization failure
        (ConnectionResetError("gone"), False),
    ],
)
def test_only_a_messages_own_failures_count_against_it(
    exc: BaseException, attributable: bool
) -> None:
    assert _attributable(exc) is attributable

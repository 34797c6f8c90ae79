"""UnitOfWork: events recorded in its transaction; side effects that only follow a commit."""

from __future__ import annotations

from typing import Any

import pytest


async def test_after_commit_actions_run_once_after_the_commit_in_order(kit: Any) -> None:
    ran: list[str] = []
    async with kit.unit_of_work() as uow:
        await uow.publish(kit.thing(thing_id="a", seq=1))

        async def first() -> None:
            ran.append(f"first, rows={len(await kit.rows())}")

        async def second() -> None:
            ran.append("second")

        uow.after_commit(first)
        uow.after_commit(second)
        assert ran == []
        await uow.commit()
    # The row is visible to another connection when the action runs: it follows the commit.
    assert ran == ["first, rows=1", "second"]


async def test_after_commit_actions_never_run_when_the_transaction_rolls_back(kit: Any) -> None:
    ran: list[str] = []

    async def action() -> None:
        ran.append("ran")

    async def failing_handler() -> None:
        async with kit.unit_of_work() as uow:
            await uow.publish(kit.thing(thing_id="a", seq=1))
            uow.after_commit(action)
            raise RuntimeError("handler failed")

    with pytest.raises(RuntimeError, match="handler failed"):
        await failing_handler()
    async with kit.unit_of_work() as uow:
        await uow.commit()  # a later transaction on a fresh unit does not inherit the action
    assert ran == []
    assert await kit.rows() == []


async def test_a_failing_after_commit_action_does_not_undo_the_commit(kit: Any) -> None:
    ran: list[str] = []

    async def broken() -> None:
        raise ConnectionError("redis is down")

    async def after() -> None:
        ran.append("after")

    async with kit.unit_of_work() as uow:
        await uow.publish(kit.thing(thing_id="a", seq=1))
        uow.after_commit(broken)
        uow.after_commit(after)
        await uow.commit()
    assert ran == ["after"]
    assert len(await kit.rows()) == 1


async def test_publish_many_records_every_event_in_order_and_only_on_commit(kit: Any) -> None:
    things = [kit.thing(thing_id=key, seq=seq) for seq, key in enumerate("abcab")]
    async with kit.unit_of_work() as uow:
        await uow.publish_many(things[:2])
        assert await uow.publish_many([]) == []
        await uow.publish_many(things[2:])
        # Not committed: nothing of it reaches the outbox.
    assert await kit.rows() == []
    async with kit.unit_of_work() as uow:
        envelopes = await uow.publish_many(things)
        await uow.commit()
    rows = await kit.rows()
    assert [row["event_id"] for row in rows] == [envelope.event_id for envelope in envelopes]
    assert [row["aggregate_key"] for row in rows] == list("abcab")
    assert [row["payload"]["data"]["seq"] for row in rows] == list(range(5))

"""The outbox relay against real Postgres and the run's broker (architecture invariant 1)."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import text

from huleedu_service_libs.kafka.producer import KafkaPublisher
from huleedu_service_libs.outbox import OutboxRelay

pytestmark = pytest.mark.integration


class CancelledAfterAck(KafkaPublisher):
    """Lets the broker ack, then cancels the relay's wait: a relay killed before it marks."""

    async def send(
        self, topic: str, value: bytes, *, key: str | None, headers: Mapping[str, str]
    ) -> asyncio.Future[Any]:
        acked = await super().send(topic, value, key=key, headers=headers)
        seen: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        acked.add_done_callback(lambda _: seen.cancel())
        return seen


class FailingFor(KafkaPublisher):
    """Fails every send of the given event ids, at send time or at the ack."""

    def __init__(self, *args: Any, event_ids: set[str], at: str = "send") -> None:
        super().__init__(*args)
        self.event_ids = event_ids
        self.at = at

    async def send(
        self, topic: str, value: bytes, *, key: str | None, headers: Mapping[str, str]
    ) -> asyncio.Future[Any]:
        if headers.get("event_id") in self.event_ids:
            error = RuntimeError(f"broker refused {headers['event_id']}")
            if self.at == "send":
                raise error
            refused: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            refused.set_exception(error)
            return refused
        return await super().send(topic, value, key=key, headers=headers)


def relay_for(kit: Any, publisher: KafkaPublisher, **options: Any) -> OutboxRelay:
    return OutboxRelay(
        kit.engine,
        publisher,
        service_name=kit.service_name,
        registry=options.pop("registry", CollectorRegistry()),
        **options,
    )


async def test_an_event_is_published_if_and_only_if_its_transaction_commits(
    kit: Any, publisher: KafkaPublisher
) -> None:
    async with kit.unit_of_work() as uow:
        rolled_back = await uow.publish(kit.thing(thing_id="a", seq=0))
        await uow.rollback()
    async with kit.unit_of_work() as uow:
        await uow.publish(kit.thing(thing_id="b", seq=0))
        # Leaving without commit rolls back too.
    committed = (await kit.write(kit.thing(thing_id="c", seq=0)))[0]

    assert await relay_for(kit, publisher).drain_once() == 1

    records = await kit.read_topic()
    assert [kit.header(r, "event_id") for r in records] == [str(committed.event_id)]
    assert str(rolled_back.event_id) not in {str(row["event_id"]) for row in await kit.rows()}


async def test_published_rows_are_marked_and_carry_event_id_and_key(
    kit: Any, publisher: KafkaPublisher
) -> None:
    envelopes = await kit.write(*(kit.thing(thing_id=f"k{i % 2}", seq=i) for i in range(5)))

    assert await relay_for(kit, publisher).drain_once() == 5

    rows = await kit.rows()
    assert all(row["published_at"] is not None and row["attempts"] == 0 for row in rows)
    records = {kit.header(r, "event_id"): r for r in await kit.read_topic()}
    assert set(records) == {str(e.event_id) for e in envelopes}
    for envelope in envelopes:
        record = records[str(envelope.event_id)]
        assert record.key == envelope.data.thing_id.encode()
        assert kit.header(record, "event_type") == "ThingHappened"
        assert kit.registry.decode(record.value) == envelope


async def test_a_relay_killed_between_ack_and_mark_republishes_with_the_same_event_id(
    kit: Any, publisher: KafkaPublisher
) -> None:
    envelope = (await kit.write(kit.thing(thing_id="a", seq=0)))[0]
    doomed = CancelledAfterAck(kit.settings, kit.registry)
    await doomed.start()
    try:
        with pytest.raises(asyncio.CancelledError):
            await relay_for(kit, doomed).drain_once()
    finally:
        await doomed.stop()
    assert (await kit.rows())[0]["published_at"] is None

    assert await relay_for(kit, publisher).drain_once() == 1

    records = await kit.read_topic()
    assert [kit.header(r, "event_id") for r in records] == [str(envelope.event_id)] * 2
    assert (await kit.rows())[0]["published_at"] is not None


async def test_two_relays_publish_each_row_once_in_per_key_order_across_a_failover(
    kit: Any,
) -> None:
    keys = [f"key{i:02d}" for i in range(20)]
    publishers = [await kit.publisher(), await kit.publisher()]
    relays = [
        relay_for(kit, p, poll_interval_s=0.2, standby_retry_s=0.1, batch_size=100)
        for p in publishers
    ]
    stops = [asyncio.Event(), asyncio.Event()]
    runs = [asyncio.create_task(r.run(s)) for r, s in zip(relays, stops, strict=True)]

    seq = dict.fromkeys(keys, 0)

    async def write_keys(owned: list[str], count: int) -> None:
        """One writer per key group, so each key's insertion order is its `seq` order."""
        written = 0
        rng = random.Random(owned[0])
        while written < count:
            batch = []
            for _ in range(min(rng.randint(1, 5), count - written)):
                key = rng.choice(owned)
                batch.append(kit.thing(thing_id=key, seq=seq[key]))
                seq[key] += 1
            await kit.write(*batch)
            written += len(batch)

    async def one_leader() -> bool:
        return sum(r.is_leader for r in relays) == 1

    try:
        assert await kit.eventually(one_leader)
        writers = [asyncio.create_task(write_keys(keys[i::4], 250)) for i in range(4)]
        await asyncio.gather(*writers)
        assert await one_leader()
        # The leader steps down; the standby takes over and publishes the rest.
        leader = next(i for i, r in enumerate(relays) if r.is_leader)
        stops[leader].set()
        await runs[leader]
        writers = [asyncio.create_task(write_keys(keys[i::4], 250)) for i in range(4)]
        await asyncio.gather(*writers)
        follower = relays[1 - leader]

        async def drained() -> bool:
            return follower.is_leader and (await follower.stats()).backlog == 0

        assert await kit.eventually(drained)
    finally:
        for stop in stops:
            stop.set()
        await asyncio.gather(*runs)
        for p in publishers:
            await p.stop()

    records = await kit.read_topic()
    ids = [kit.header(r, "event_id") for r in records]
    assert len(ids) == 2000
    assert len(set(ids)) == 2000
    by_key: dict[str, list[int]] = defaultdict(list)
    for record in records:
        by_key[record.key.decode()].append(kit.registry.decode(record.value).data.seq)
    for key, seqs in by_key.items():
        assert seqs == list(range(len(seqs))), key


async def test_rows_behind_a_row_locked_elsewhere_wait_for_it(
    kit: Any, publisher: KafkaPublisher
) -> None:
    first, second = await kit.write(kit.thing(thing_id="k", seq=0), kit.thing(thing_id="k", seq=1))
    other = (await kit.write(kit.thing(thing_id="j", seq=0)))[0]
    relay = relay_for(kit, publisher)
    # Another transaction (a relay that lost its lock mid-round, say) holds the first row.
    async with kit.engine.connect() as elsewhere, elsewhere.begin():
        await elsewhere.execute(
            text("SELECT id FROM event_outbox WHERE event_id = :id FOR UPDATE"),
            {"id": first.event_id},
        )
        result = await relay.publish_round()
        assert (result.published, result.held) == (1, 1)
    assert await relay.drain_once() == 2

    ids = [kit.header(r, "event_id") for r in await kit.read_topic()]
    assert sorted(ids) == sorted(str(e.event_id) for e in (first, second, other))
    assert ids.index(str(first.event_id)) < ids.index(str(second.event_id))


async def test_rounds_racing_without_the_lock_still_publish_once_in_key_order(kit: Any) -> None:
    """Row locks keep relays running at once from publishing a row twice; key order holds."""
    keys = [f"key{i}" for i in range(10)]
    publishers = [await kit.publisher(), await kit.publisher()]
    relays = [relay_for(kit, p, batch_size=20, max_round_rows=60) for p in publishers]
    writing_done = asyncio.Event()

    async def relay_loop(relay: OutboxRelay) -> None:
        while True:
            result = await relay.publish_round()
            if writing_done.is_set() and result.claimed == 0:
                return
            await asyncio.sleep(0)

    async def write() -> None:
        rng = random.Random(7)
        seq = dict.fromkeys(keys, 0)
        for _ in range(250):
            batch = []
            for key in rng.sample(keys, 4):
                batch.append(kit.thing(thing_id=key, seq=seq[key]))
                seq[key] += 1
            await kit.write(*batch)
        writing_done.set()

    loops = [asyncio.create_task(relay_loop(r)) for r in relays]
    try:
        await write()
        await asyncio.gather(*loops)
        assert (await relays[0].stats()).backlog == 0
    finally:
        for loop in loops:
            loop.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
        for p in publishers:
            await p.stop()

    records = await kit.read_topic()
    ids = [kit.header(r, "event_id") for r in records]
    assert len(ids) == len(set(ids)) == 1000
    by_key: dict[str, list[int]] = defaultdict(list)
    for record in records:
        by_key[record.key.decode()].append(kit.registry.decode(record.value).data.seq)
    for key, seqs in by_key.items():
        assert seqs == list(range(len(seqs))), key


@pytest.mark.parametrize("failing_at", ["send", "ack"])
async def test_a_row_that_always_fails_ends_dead_without_pinning_the_relay(
    kit: Any, failing_at: str
) -> None:
    poison, after_poison = await kit.write(
        kit.thing(thing_id="poison", seq=0), kit.thing(thing_id="poison", seq=1)
    )
    others = await kit.write(kit.thing(thing_id="a", seq=0), kit.thing(thing_id="b", seq=0))
    publisher = FailingFor(
        kit.settings, kit.registry, event_ids={str(poison.event_id)}, at=failing_at
    )
    await publisher.start()
    relay = relay_for(
        kit, publisher, max_attempts=3, backoff_base_s=0.05, backoff_max_s=0.2, poll_interval_s=0.05
    )
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop))

    async def settled() -> bool:
        rows = await kit.rows()
        return all(row["published_at"] is not None or row["dead_at"] is not None for row in rows)

    try:
        assert await kit.eventually(settled)
    finally:
        stop.set()
        await running
        await publisher.stop()

    rows = {str(row["event_id"]): row for row in await kit.rows()}
    dead = rows[str(poison.event_id)]
    assert dead["dead_at"] is not None
    assert dead["published_at"] is None
    assert dead["attempts"] == 3
    assert f"broker refused {poison.event_id}" in dead["last_error"]
    for other in others:
        assert rows[str(other.event_id)]["published_at"] < dead["dead_at"]
    # The same key waited for the dead row; then it went out.
    assert rows[str(after_poison.event_id)]["published_at"] > dead["dead_at"]
    ids = [kit.header(r, "event_id") for r in await kit.read_topic()]
    assert str(poison.event_id) not in ids
    assert {str(e.event_id) for e in others} <= set(ids)
    if failing_at == "send":
        assert ids.count(str(after_poison.event_id)) == 1
    else:
        # Already in flight when the earlier row's ack failed: not marked, so sent again later.
        assert ids.count(str(after_poison.event_id)) >= 1


async def test_notify_wakes_the_relay_before_the_poll_fallback(
    kit: Any, publisher: KafkaPublisher
) -> None:
    relay = relay_for(kit, publisher, poll_interval_s=60.0)
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop))
    try:

        async def leading() -> bool:
            return relay.is_leader

        assert await kit.eventually(leading)
        envelope = (await kit.write(kit.thing(thing_id="a", seq=0)))[0]
        records = await kit.wait_for_records(1, within_s=20.0)
    finally:
        stop.set()
        await running

    assert [kit.header(r, "event_id") for r in records] == [str(envelope.event_id)]


async def test_a_relay_whose_lock_connection_drops_stops_and_another_leads(kit: Any) -> None:
    publishers = [await kit.publisher(), await kit.publisher()]
    relays = [relay_for(kit, p, poll_interval_s=0.1, standby_retry_s=0.1) for p in publishers]
    stop = asyncio.Event()
    runs = [asyncio.create_task(r.run(stop)) for r in relays]
    lock_holders = text(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND database ="
        " (SELECT oid FROM pg_database WHERE datname = current_database())"
    )

    async def holders() -> list[int]:
        async with kit.engine.connect() as connection:
            return list((await connection.scalars(lock_holders)).all())

    async def one_leader() -> bool:
        return sum(r.is_leader for r in relays) == 1 and len(await holders()) == 1

    try:
        assert await kit.eventually(one_leader)
        [dropped] = await holders()
        async with kit.engine.connect() as connection:
            await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": dropped})

        async def led_again() -> bool:
            return await one_leader() and dropped not in await holders()

        assert await kit.eventually(led_again)
        envelope = (await kit.write(kit.thing(thing_id="a", seq=0)))[0]
        records = await kit.wait_for_records(1, within_s=20.0)
    finally:
        stop.set()
        await asyncio.gather(*runs)
        for p in publishers:
            await p.stop()

    assert [kit.header(r, "event_id") for r in records] == [str(envelope.event_id)]


async def test_metrics_reflect_backlog_published_and_dead_rows(kit: Any) -> None:
    registry = CollectorRegistry()
    poison = (await kit.write(kit.thing(thing_id="poison", seq=0)))[0]
    await kit.write(*(kit.thing(thing_id=f"k{i}", seq=0) for i in range(3)))
    publisher = FailingFor(kit.settings, kit.registry, event_ids={str(poison.event_id)})
    await publisher.start()
    relay = relay_for(kit, publisher, registry=registry, max_attempts=1)
    labels = {"service": kit.service_name}

    def sample(name: str, **extra: str) -> float | None:
        return registry.get_sample_value(name, {**labels, **extra})

    try:
        stats = await relay.refresh_metrics()
        assert stats.backlog == 4
        assert sample("huleedu_outbox_backlog") == 4
        assert (sample("huleedu_outbox_oldest_pending_age_seconds") or 0) > 0
        assert sample("huleedu_outbox_dead_rows_current") == 0

        assert await relay.drain_once() == 3
        await relay.refresh_metrics()
    finally:
        await publisher.stop()

    assert sample("huleedu_outbox_backlog") == 0
    assert sample("huleedu_outbox_oldest_pending_age_seconds") == 0
    assert sample("huleedu_outbox_dead_rows_current") == 1
    assert sample("huleedu_outbox_dead_rows_total") == 1
    assert sample("huleedu_outbox_published_total") == 3
    assert sample("huleedu_outbox_publish_failures_total", reason="RuntimeError") == 1
    assert sample("huleedu_outbox_publish_latency_seconds_count") == 3


def test_relays_of_one_process_share_the_metric_families() -> None:
    registry = CollectorRegistry()
    from huleedu_service_libs.outbox import outbox_metrics

    assert outbox_metrics(registry) is outbox_metrics(registry)
    assert outbox_metrics(registry) is not outbox_metrics(CollectorRegistry())

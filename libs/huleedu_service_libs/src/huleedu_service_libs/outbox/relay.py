"""The outbox relay: publishes committed outbox rows to Kafka (architecture invariant 1).

One relay per service is active at a time: it holds a Postgres advisory lock on a dedicated
connection that also LISTENs (and is otherwise idle, because Postgres delivers notifications
only between transactions); the other replicas stand by and retry the lock.

The active relay works in rounds, one transaction each, on a second connection. A round
claims due rows in id order with `FOR UPDATE SKIP LOCKED` and hands them to the producer;
while acks are outstanding it claims more (the next chunk of a backlog at once, new rows when
NOTIFY announces them) and marks the rows already acknowledged (`UPDATE ... WHERE id =
ANY(...)`); it commits once every ack is in. A crash before the commit republishes the rows
with the same `event_id` header: at-least-once, and consumers de-duplicate. Failed rows back
off and, after `max_attempts`, become dead: visible, logged, counted, and no longer holding
back their key.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import random
import time
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from huleedu_service_libs.kafka.producer import KafkaPublisher
from huleedu_service_libs.logging import get_logger
from huleedu_service_libs.outbox.metrics import ServiceOutboxMetrics, outbox_metrics
from huleedu_service_libs.outbox.table import OUTBOX_NOTIFY_CHANNEL

log = get_logger(__name__)

MAX_ERROR_CHARS = 2000

# Due rows in id order, skipping those this round already took ($2). A row whose key has an
# earlier pending row that is backing off is not due (per-aggregate order). `held` marks rows
# whose key has an earlier pending row that neither this claim nor this round holds (locked
# by another transaction, e.g. a relay that lost its lock mid-round): not published now.
_CLAIM = """
    WITH claimed AS MATERIALIZED (
        SELECT o.id, o.event_id, o.topic, o.aggregate_key, o.payload, o.headers, o.attempts,
               o.created_at
        FROM event_outbox AS o
        WHERE o.published_at IS NULL AND o.dead_at IS NULL
          AND (o.next_attempt_at IS NULL OR o.next_attempt_at <= now())
          AND o.id NOT IN (SELECT unnest($2::bigint[]))
          AND NOT EXISTS (
              SELECT 1 FROM event_outbox AS e
              WHERE e.aggregate_key = o.aggregate_key AND e.id < o.id
                AND e.published_at IS NULL AND e.dead_at IS NULL
                AND e.next_attempt_at IS NOT NULL AND e.next_attempt_at > now()
          )
        ORDER BY o.id
        LIMIT $1
        FOR UPDATE OF o SKIP LOCKED
    ),
    held AS (
        SELECT k.aggregate_key, (
            SELECT e.id FROM event_outbox AS e
            WHERE e.aggregate_key = k.aggregate_key AND e.id < k.last_id
              AND e.published_at IS NULL AND e.dead_at IS NULL
              AND e.id NOT IN (SELECT c.id FROM claimed AS c)
              AND e.id NOT IN (SELECT unnest($2::bigint[]))
            ORDER BY e.aggregate_key, e.id
            LIMIT 1
        ) AS first_id
        FROM (
            SELECT c.aggregate_key, max(c.id) AS last_id FROM claimed AS c
            WHERE c.aggregate_key IS NOT NULL GROUP BY c.aggregate_key
        ) AS k
    )
    SELECT c.id, c.event_id::text AS event_id, c.topic, c.aggregate_key,
           c.payload::text AS payload, c.headers, c.attempts,
           extract(epoch FROM c.created_at)::float8 AS created_epoch,
           extract(epoch FROM clock_timestamp())::float8 AS db_epoch,
           (h.first_id IS NOT NULL AND c.id > h.first_id) AS held
    FROM claimed AS c
    LEFT JOIN held AS h ON h.aggregate_key = c.aggregate_key
    ORDER BY c.id
    """

_MARK_PUBLISHED = (
    "UPDATE event_outbox SET published_at = clock_timestamp() WHERE id = ANY($1::bigint[])"
)

_MARK_FAILED = """
    UPDATE event_outbox AS o
    SET attempts = o.attempts + 1,
        last_error = f.error,
        next_attempt_at = clock_timestamp() + f.delay_s * interval '1 second',
        dead_at = CASE WHEN o.attempts + 1 >= $4 THEN clock_timestamp() END
    FROM unnest($1::bigint[], $2::text[], $3::float8[]) AS f(id, error, delay_s)
    WHERE o.id = f.id
    RETURNING o.id, o.event_id::text AS event_id, o.topic, o.aggregate_key, o.attempts,
              o.last_error, o.dead_at IS NOT NULL AS dead
    """

_STATS = """
    SELECT
        (SELECT count(*) FROM event_outbox
         WHERE published_at IS NULL AND dead_at IS NULL) AS backlog,
        (SELECT coalesce(extract(epoch FROM clock_timestamp() - min(created_at)), 0)::float8
         FROM event_outbox WHERE published_at IS NULL AND dead_at IS NULL) AS oldest_age_s,
        (SELECT count(*) FROM event_outbox WHERE dead_at IS NOT NULL) AS dead
    """

# A crash that loses a relay commit only republishes rows (same event_id), so the relay does
# not wait for the WAL flush.
_NO_FLUSH_WAIT = "SET synchronous_commit = off"
_NO_FLUSH_WAIT_LOCAL = "SET LOCAL synchronous_commit = off"


def advisory_lock_key(service_name: str) -> int:
    """A stable signed 64-bit key for `pg_advisory_lock`, the same in every replica."""
    digest = hashlib.sha256(f"outbox:{service_name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@dataclass(frozen=True)
class RoundResult:
    """What one round (claim, publish, mark; one transaction) did."""

    claimed: int = 0
    published: int = 0
    failed: int = 0
    dead: int = 0
    held: int = 0
    # The last claim found fewer rows than it asked for: nothing more is due right now.
    exhausted: bool = True


@dataclass(frozen=True)
class OutboxStats:
    """The outbox as the metrics see it."""

    backlog: int
    oldest_pending_age_s: float
    dead: int


@dataclass(slots=True)
class _Row:
    id: int
    event_id: str
    topic: str
    key: str | None
    payload: bytes
    headers: dict[str, str]
    attempts: int
    created_epoch: float
    held: bool
    position: int = 0
    acked_at: float = 0.0


def _error_text(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:MAX_ERROR_CHARS]


class _Round:
    """The rows of one transaction, in the order they were sent, and what became of them.

    A failed row holds back the rows of its key sent after it in this round: not sent if not
    yet sent, not marked if already acked. They are published again after the failed row,
    so a key's rows never end up published only out of order.
    """

    def __init__(self, publisher: KafkaPublisher) -> None:
        self._publisher = publisher
        self.claimed_ids: list[int] = []
        self.sent: list[tuple[_Row, asyncio.Future[Any]]] = []
        self.failures: list[tuple[_Row, BaseException]] = []
        self.held = 0
        self.acked: list[_Row] = []
        self._first_failure: dict[str, int] = {}
        self._settled = 0
        self._outstanding = 0
        self._sending: asyncio.Task[None] | None = None
        # The last claim found fewer rows than it asked for.
        self.exhausted = True
        self.all_acked = asyncio.Event()
        self.all_acked.set()

    def _fail(self, row: _Row, error: BaseException) -> None:
        self.failures.append((row, error))
        if row.key is not None and row.position < self._first_failure.get(
            row.key, row.position + 1
        ):
            self._first_failure[row.key] = row.position

    def _held_back(self, row: _Row) -> bool:
        return row.key is not None and row.position > self._first_failure.get(row.key, row.position)

    def _on_answer(self, row: _Row) -> Any:
        def done(future: asyncio.Future[Any]) -> None:
            row.acked_at = time.time()
            # Known at once, so that rows of the key not yet handed over are held back.
            error = None if future.cancelled() else future.exception()
            if error is not None:
                self._fail(row, error)
            self._outstanding -= 1
            if self._outstanding == 0:
                self.all_acked.set()

        return done

    def start_sending(self, rows: list[_Row]) -> None:
        """Take claimed rows into the round and hand them to the producer in the background.

        Call only once the previous rows are all handed over (`sent_all`): send order is
        claim order.
        """
        for row in rows:
            row.position = len(self.claimed_ids)
            self.claimed_ids.append(row.id)
        self._sending = asyncio.create_task(self._send(rows))

    async def sent_all(self) -> None:
        if self._sending is not None:
            await self._sending

    async def stop_sending(self) -> None:
        """Leave no sending task behind, whether the round ends normally or not."""
        if self._sending is not None and not self._sending.done():
            self._sending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sending

    async def _send(self, rows: list[_Row]) -> None:
        for row in rows:
            if row.held or self._held_back(row):
                self.held += 1
                continue
            try:
                future = await self._publisher.send(
                    row.topic, row.payload, key=row.key, headers=row.headers
                )
            except Exception as error:  # e.g. an invalid topic or an oversized record
                self._fail(row, error)
                continue
            self._outstanding += 1
            self.all_acked.clear()
            future.add_done_callback(self._on_answer(row))
            self.sent.append((row, future))

    def take_settled(self) -> list[_Row]:
        """Rows to mark published now: acked, at the front of the send order, not yet taken.

        Every row sent before them has its answer, so whether they are held back is final.
        """
        ready = []
        while self._settled < len(self.sent):
            row, future = self.sent[self._settled]
            if not future.done():
                break
            self._settled += 1
            if future.exception() is not None:  # raises CancelledError if it was cancelled
                continue  # a failure, recorded when it arrived
            if self._held_back(row):
                self.held += 1
            else:
                ready.append(row)
        self.acked.extend(ready)
        return ready

    async def settle(self) -> list[_Row]:
        """Wait for every ack; the rows still to mark published."""
        await self.all_acked.wait()
        return self.take_settled()


class OutboxRelay:
    """Publishes a service's outbox; start one per replica, one of them publishes.

    `batch_size` rows are claimed at a time; one round (transaction) takes at most
    `max_round_rows` rows (default 8 x batch_size) and keeps taking new rows for at most
    `max_round_s`, which bounds how much a crash republishes and how long rows stay locked.
    `poll_interval_s` is the fallback when no NOTIFY arrives; a standby retries the lock every
    `standby_retry_s`. A row that failed waits `backoff_base_s * 2**(attempts-1)` (capped at
    `backoff_max_s`, jittered) and is dead after `max_attempts`.
    """

    def __init__(
        self,
        database: AsyncEngine | async_sessionmaker[AsyncSession],
        publisher: KafkaPublisher,
        *,
        service_name: str,
        batch_size: int = 500,
        max_round_rows: int | None = None,
        max_round_s: float = 0.5,
        poll_interval_s: float = 1.0,
        max_attempts: int = 10,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 300.0,
        standby_retry_s: float = 3.0,
        statement_timeout_s: float = 30.0,
        metrics_interval_s: float = 5.0,
        registry: CollectorRegistry | None = None,
    ) -> None:
        if batch_size < 1 or max_attempts < 1:
            raise ValueError("batch_size and max_attempts must be at least 1")
        self._engine = database if isinstance(database, AsyncEngine) else _bound_engine(database)
        self._publisher = publisher
        self.service_name = service_name
        self._batch_size = batch_size
        self._max_round_rows = max(batch_size, max_round_rows or 8 * batch_size)
        self._max_round_s = max_round_s
        self._poll_interval_s = poll_interval_s
        self._max_attempts = max_attempts
        self._backoff_base_s = backoff_base_s
        self._backoff_max_s = backoff_max_s
        self._standby_retry_s = standby_retry_s
        self._statement_timeout_s = statement_timeout_s
        self._metrics_interval_s = metrics_interval_s
        self._metrics: ServiceOutboxMetrics = outbox_metrics(registry).for_service(service_name)
        self._lock_key = advisory_lock_key(service_name)
        self._wake = asyncio.Event()
        self._lock_connection: AsyncConnection | None = None
        self._lock_driver: Any = None
        self._work_connection: AsyncConnection | None = None
        self._work_driver: Any = None
        self._lock_lost = False
        self._last_metrics = 0.0

    @property
    def is_leader(self) -> bool:
        """True while this relay holds the service's lock (and so is the one publishing)."""
        return self._lock_connection is not None and not self._lock_lost

    # --- running -----------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until `stop` is set: lead when the lock is free, else stand by."""
        stop_watch = asyncio.create_task(self._wake_when(stop))
        try:
            while not stop.is_set():
                self._wake.clear()
                if await self._acquire_lock():
                    try:
                        await self._lead(stop)
                    finally:
                        lost = self._lock_lost
                        await self._release_lock()
                    if not lost:
                        continue
                # Lost or not won: stand by, so a healthier replica can take the lock first.
                self._wake.clear()
                if not stop.is_set():
                    await self._wait_for_wake(self._standby_retry_s)
        finally:
            stop_watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await stop_watch

    async def drain_once(self) -> int:
        """Publish what is pending now and return how many rows were published.

        Does not take the service's lock; for tests, benchmarks and one-off tools (not while
        this relay object runs).
        """
        total = 0
        while True:
            result = await self.publish_round()
            total += result.published
            if result.exhausted or result.published == 0:
                return total

    async def _lead(self, stop: asyncio.Event) -> None:
        log.info("outbox_relay_leading", service=self.service_name)
        await self._refresh_metrics_if_due(force=True)
        while not stop.is_set() and not self._lock_lost:
            self._wake.clear()
            try:
                result = await self._round(self._work_driver, pooled=False, listening=True)
            except Exception:
                # The connections' state is unknown: step down; the lock goes with its
                # connection and a replica (maybe this one) takes over after a pause.
                log.exception("outbox_relay_round_failed", service=self.service_name)
                self._lock_lost = True
                break
            await self._refresh_metrics_if_due()
            if not result.exhausted and result.published + result.failed > 0:
                continue  # a backlog: the next round at once
            if stop.is_set():
                break
            if not await self._wait_for_wake(self._poll_interval_s):
                await self._check_lock_connection()
        if self._lock_lost:
            log.warning("outbox_relay_stepped_down", service=self.service_name)

    async def _wake_when(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._wake.set()

    async def _wait_for_wake(self, timeout_s: float) -> bool:
        try:
            async with asyncio.timeout(timeout_s):
                await self._wake.wait()
        except TimeoutError:
            return False
        return True

    # --- one round -----------------------------------------------------------------------

    async def publish_round(self) -> RoundResult:
        """One round on a pooled connection: claim, publish, mark, commit.

        The running relay does the same on the work connection it holds while leading.
        """
        async with self._engine.connect() as connection:
            return await self._round(await _driver(connection), pooled=True, listening=False)

    async def _round(self, driver: Any, *, pooled: bool, listening: bool) -> RoundResult:
        async with driver.transaction():
            if pooled:
                await driver.execute(_NO_FLUSH_WAIT_LOCAL)
            round_ = _Round(self._publisher)
            claimed = await driver.fetch(
                _CLAIM, self._batch_size, [], timeout=self._statement_timeout_s
            )
            if not claimed:
                return RoundResult()
            # The database's clock against ours: latency is then database time to database
            # time even when this host's clock is off.
            clock_offset = float(claimed[0]["db_epoch"]) - time.time()
            round_.exhausted = len(claimed) < self._batch_size
            round_.start_sending([_row(record) for record in claimed])
            try:
                await self._extend(driver, round_, listening=listening)
                await round_.sent_all()
            finally:
                await round_.stop_sending()
            await self._mark_published(driver, await round_.settle())
            dead = await self._mark_failed(driver, round_.failures) if round_.failures else []
        self._record(round_.acked, round_.failures, dead, clock_offset)
        return RoundResult(
            claimed=len(round_.claimed_ids),
            published=len(round_.acked),
            failed=len(round_.failures),
            dead=len(dead),
            held=round_.held,
            exhausted=round_.exhausted,
        )

    async def _extend(self, driver: Any, round_: _Round, *, listening: bool) -> None:
        """While acks are outstanding, take what else is due into the round.

        The next chunk of a backlog is claimed at once, new rows when NOTIFY announces them.
        The producer buffers little, so claiming and marking run while the previous chunk is
        still being handed to it; chunks go to the producer one after the other, in order.
        """
        deadline = time.monotonic() + self._max_round_s
        while len(round_.claimed_ids) < self._max_round_rows:
            if round_.exhausted:
                if not listening:
                    return
                await round_.sent_all()
                if not await self._woken_before(round_, deadline):
                    return
            if time.monotonic() >= deadline:
                return
            limit = min(self._batch_size, self._max_round_rows - len(round_.claimed_ids))
            claimed = await driver.fetch(
                _CLAIM, limit, round_.claimed_ids, timeout=self._statement_timeout_s
            )
            round_.exhausted = len(claimed) < limit
            await self._mark_published(driver, round_.take_settled())
            await round_.sent_all()
            round_.start_sending([_row(record) for record in claimed])

    async def _woken_before(self, round_: _Round, deadline: float) -> bool:
        """True if NOTIFY announced new rows before every ack arrived (and time is left)."""
        if self._wake.is_set():
            self._wake.clear()
            return True
        if round_.all_acked.is_set():
            return False
        woken = asyncio.create_task(self._wake.wait())
        acked = asyncio.create_task(round_.all_acked.wait())
        try:
            await asyncio.wait(
                (woken, acked),
                timeout=max(0.0, deadline - time.monotonic()),
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            woken.cancel()
            acked.cancel()
        if self._wake.is_set() and not round_.all_acked.is_set():
            self._wake.clear()
            return True
        return False

    async def _mark_published(self, driver: Any, rows: list[_Row]) -> None:
        if rows:
            await driver.execute(
                _MARK_PUBLISHED, [row.id for row in rows], timeout=self._statement_timeout_s
            )

    async def _mark_failed(
        self, driver: Any, failures: list[tuple[_Row, BaseException]]
    ) -> list[Any]:
        """Count the attempt, keep the error, back off; dead after the last attempt."""
        updated = await driver.fetch(
            _MARK_FAILED,
            [row.id for row, _ in failures],
            [_error_text(error) for _, error in failures],
            [self._backoff_s(row.attempts + 1) for row, _ in failures],
            self._max_attempts,
            timeout=self._statement_timeout_s,
        )
        for row, error in failures:
            log.warning(
                "outbox_publish_failed",
                service=self.service_name,
                event_id=row.event_id,
                topic=row.topic,
                aggregate_key=row.key,
                attempt=row.attempts + 1,
                error=_error_text(error),
            )
        dead = [record for record in updated if record["dead"]]
        for record in dead:
            log.error(
                "outbox_row_dead",
                service=self.service_name,
                outbox_id=record["id"],
                event_id=record["event_id"],
                topic=record["topic"],
                aggregate_key=record["aggregate_key"],
                attempts=record["attempts"],
                last_error=record["last_error"],
            )
        return dead

    def _backoff_s(self, attempt: int) -> float:
        """Exponential in the attempt number, capped, with jitter so replicas do not align."""
        ceiling = min(self._backoff_max_s, self._backoff_base_s * 2.0 ** min(attempt - 1, 32))
        return ceiling * random.uniform(0.5, 1.0)

    def _record(
        self,
        acked: list[_Row],
        failures: list[tuple[_Row, BaseException]],
        dead: list[Any],
        clock_offset: float,
    ) -> None:
        metrics = self._metrics
        if acked:
            metrics.published.inc(len(acked))
            for row in acked:
                latency = row.acked_at + clock_offset - row.created_epoch
                metrics.publish_latency.observe(max(0.0, latency))
        for _, error in failures:
            metrics.publish_failure(type(error).__name__)
        if dead:
            metrics.dead_rows.inc(len(dead))

    # --- metrics ---------------------------------------------------------------------------

    async def stats(self) -> OutboxStats:
        """Backlog, age of the oldest pending row and dead rows, read from the table."""
        async with self._engine.connect() as connection:
            row = await (await _driver(connection)).fetchrow(_STATS)
        return OutboxStats(
            backlog=int(row["backlog"]),
            oldest_pending_age_s=float(row["oldest_age_s"]),
            dead=int(row["dead"]),
        )

    async def refresh_metrics(self) -> OutboxStats:
        """Set the backlog, oldest-age and dead-row gauges from the table."""
        stats = await self.stats()
        self._metrics.backlog.set(stats.backlog)
        self._metrics.oldest_pending_age.set(stats.oldest_pending_age_s)
        self._metrics.dead_rows_current.set(stats.dead)
        self._last_metrics = time.monotonic()
        return stats

    async def _refresh_metrics_if_due(self, *, force: bool = False) -> None:
        if not force and time.monotonic() - self._last_metrics < self._metrics_interval_s:
            return
        try:
            await self.refresh_metrics()
        except Exception:  # metrics must never stop publishing
            log.exception("outbox_metrics_refresh_failed", service=self.service_name)

    # --- the lock ----------------------------------------------------------------------------

    async def _acquire_lock(self) -> bool:
        """Try the service's advisory lock; if won, LISTEN there and open the work connection."""
        connection = await self._engine.connect()
        work: AsyncConnection | None = None
        try:
            driver = await _driver(connection)
            won = bool(await driver.fetchval("SELECT pg_try_advisory_lock($1)", self._lock_key))
            if won:
                self._lock_lost = False
                await driver.add_listener(OUTBOX_NOTIFY_CHANNEL, self._on_notify)
                driver.add_termination_listener(self._on_lock_connection_lost)
                work = await self._engine.connect()
                work_driver = await _driver(work)
                await work_driver.execute(_NO_FLUSH_WAIT)
        except Exception:
            log.exception("outbox_relay_lock_attempt_failed", service=self.service_name)
            await _discard(connection)
            if work is not None:
                await _discard(work)
            return False
        if not won:
            await connection.close()
            return False
        self._lock_connection, self._lock_driver = connection, driver
        self._work_connection, self._work_driver = work, work_driver
        self._metrics.leader.set(1)
        return True

    async def _release_lock(self) -> None:
        connection, driver = self._lock_connection, self._lock_driver
        work = self._work_connection
        self._lock_connection = self._lock_driver = None
        self._work_connection = self._work_driver = None
        self._metrics.leader.set(0)
        if work is not None:
            await _discard(work)
        if connection is None:
            return
        driver.remove_termination_listener(self._on_lock_connection_lost)
        if not self._lock_lost:
            with contextlib.suppress(Exception):
                await driver.remove_listener(OUTBOX_NOTIFY_CHANNEL, self._on_notify)
                await driver.fetchval("SELECT pg_advisory_unlock($1)", self._lock_key)
        # Never hand a connection that listened or held the lock back to the pool.
        await _discard(connection)
        log.info("outbox_relay_standing_down", service=self.service_name)

    async def _check_lock_connection(self) -> None:
        """When idle, prove the lock connection is alive; if it is not, someone else may lead."""
        try:
            await self._lock_driver.fetchval("SELECT 1", timeout=self._statement_timeout_s)
        except Exception:
            self._lock_lost = True

    def _on_lock_connection_lost(self, _connection: Any) -> None:
        self._lock_lost = True
        self._wake.set()

    def _on_notify(self, _connection: Any, _pid: int, _channel: str, _payload: str) -> None:
        self._wake.set()


def _bound_engine(sessions: async_sessionmaker[AsyncSession]) -> AsyncEngine:
    bind = sessions.kw.get("bind")
    if not isinstance(bind, AsyncEngine):
        raise TypeError("the session factory must be bound to an AsyncEngine")
    return bind


def _row(record: Any) -> _Row:
    headers = record["headers"]
    return _Row(
        id=record["id"],
        event_id=record["event_id"],
        topic=record["topic"],
        key=record["aggregate_key"],
        payload=record["payload"].encode(),
        headers=json.loads(headers) if isinstance(headers, str) else headers,
        attempts=record["attempts"],
        created_epoch=record["created_epoch"],
        held=record["held"],
    )


async def _driver(connection: AsyncConnection) -> Any:
    """The asyncpg connection under a pooled SQLAlchemy one: the relay's hot path speaks it."""
    raw = await connection.get_raw_connection()
    return raw.driver_connection


async def _discard(connection: AsyncConnection) -> None:
    with contextlib.suppress(Exception):
        await connection.invalidate()
    with contextlib.suppress(Exception):
        await connection.close()

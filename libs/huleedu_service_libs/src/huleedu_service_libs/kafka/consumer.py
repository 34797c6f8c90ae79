"""The one Kafka consumer loop every worker runs: at-least-once in, exactly-once effect.

Per message: decode against the registry (undecodable → dead letter); claim the event in the
Redis guard; open a UnitOfWork; write the inbox row; run the handler; commit; confirm the
claim; only then commit the offset. Round trips are batched without changing that order:
claims are made for a chunk of fetched messages at once, confirmations for a fetched batch
at once, and offsets are committed per partition after the confirmations of the messages they
cover (after each fetched batch, on revoke and on stop). Consecutive messages of a chunk that
are ready to handle share one transaction, so a burst costs one commit, not one per message;
when one of them fails, the transaction is rolled back, the messages before it are handled
again without it and the failure counts against that message alone. A failed message is
consumed again (seek back, partition paused for a backoff) and after `max_attempts` handler
failures goes to the dead-letter topic, so it never blocks its partition forever and is never
dropped silently (invariant 2). After every poll the lag of each assigned partition (high
watermark minus the consumer's position) is set in `huleedu_consumer_lag`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from uuid import UUID

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import (
    CommitFailedError,
    ConsumerStoppedError,
    IllegalStateError,
    KafkaError,
)
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from structlog.contextvars import bound_contextvars

from common_core.errors import ErrorCode
from common_core.events.envelope import EventEnvelope
from common_core.events.registry import EventRegistry, UnknownEventTypeError
from huleedu_service_libs.database import UnitOfWork
from huleedu_service_libs.idempotency.guard import ClaimResult, ClaimState, IdempotencyGuard
from huleedu_service_libs.idempotency.inbox import record_inbox, record_inbox_many
from huleedu_service_libs.kafka.dead_letter import dead_letter_error, publish_dead_letter
from huleedu_service_libs.kafka.producer import KafkaPublisher
from huleedu_service_libs.kafka.topics import TopicNamer, ensure_topics
from huleedu_service_libs.logging import bind_event_context, get_logger
from huleedu_service_libs.outbox.writer import OutboxWriter
from huleedu_service_libs.settings import ServiceSettings

logger = get_logger(__name__)

Handler = Callable[[EventEnvelope[Any], UnitOfWork], Awaitable[None]]

HANDLED_TOTAL = Counter(
    "huleedu_consumer_handled_total",
    "Events whose handler ran and whose transaction committed.",
    ["consumer", "event_type"],
)
DUPLICATES_SKIPPED_TOTAL = Counter(
    "huleedu_consumer_duplicates_skipped_total",
    "Redelivered events skipped, by the layer that recognised them (guard or inbox).",
    ["consumer", "event_type", "layer"],
)
FAILURES_TOTAL = Counter(
    "huleedu_consumer_failures_total",
    "Handler attempts that raised; each is rolled back and retried or dead-lettered.",
    ["consumer", "event_type"],
)
DEAD_LETTERED_TOTAL = Counter(
    "huleedu_consumer_dead_lettered_total",
    "Messages sent to the dead-letter topic, by error code.",
    ["consumer", "event_type", "code"],
)
REDELIVERIES_TOTAL = Counter(
    "huleedu_consumer_redeliveries_total",
    "Messages left unacknowledged to be consumed again, by reason.",
    ["consumer", "event_type", "reason"],
)
HANDLING_DURATION = Histogram(
    "huleedu_consumer_handling_duration_seconds",
    "Time from claim to committed transaction for handled events.",
    ["consumer", "event_type"],
)

LAG = Gauge(
    "huleedu_consumer_lag",
    "Messages of a partition not consumed yet: the broker's high watermark minus the consumer's"
    " position (offsets are committed right after each fetched batch), set after each poll.",
    ["consumer", "topic", "partition"],
)


def partition_lag(highwater: int, position: int) -> int:
    """Messages behind; never negative (a broker may report a watermark that trails a fetch)."""
    return max(0, highwater - position)


class Outcome(StrEnum):
    """What became of one message; the first three let its offset be committed."""

    HANDLED = "handled"
    DUPLICATE = "duplicate"
    DEAD_LETTERED = "dead_lettered"
    RETRY = "retry"  # handler failed, attempt counted
    BUSY = "busy"  # another consumer holds a live claim on the event
    DEFERRED = "deferred"  # database or dead-letter topic unreachable; nothing counted


FINISHED = frozenset({Outcome.HANDLED, Outcome.DUPLICATE, Outcome.DEAD_LETTERED})


@dataclass
class _Attempts:
    partition: TopicPartition
    offset: int
    count: int
    last_error: str


@dataclass
class _Prepared:
    """A decoded message and its guard claim, made ahead for a chunk of a fetched batch."""

    envelope: EventEnvelope[Any] | None = None
    handler: Handler | None = None
    error: tuple[ErrorCode, str] | None = None
    claim: ClaimResult | None = None


# Claims that let a message be handled now: its own, or none because the guard is down.
_READY_CLAIMS = frozenset({ClaimState.CLAIMED, ClaimState.UNAVAILABLE})

# Deadlock and serialization failures: caused by a transaction's other messages, not this one.
_CONTENTION_SQLSTATES = frozenset({"40P01", "40001"})


def _attributable(exc: BaseException) -> bool:
    """Whether a failure inside a shared transaction is the failing message's own fault."""
    if _connection_failure(exc):
        return False
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None) not in _CONTENTION_SQLSTATES


def _connection_failure(exc: BaseException) -> bool:
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OSError | TimeoutError | OperationalError | InterfaceError)


class _CommitOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, loop: ConsumerLoop) -> None:
        self._loop = loop

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        await self._loop._on_revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        self._loop._on_assigned(set(assigned))


class ConsumerLoop:
    """Consumes the topics of the handled event types as consumer group `consumer_name`.

    The caller owns `publisher` (started before `run`, stopped after). `run(stop)` returns
    once `stop` is set: the message in hand is finished, handled offsets are committed and
    the consumer leaves its group.
    """

    def __init__(
        self,
        settings: ServiceSettings,
        *,
        consumer_name: str,
        registry: EventRegistry,
        handlers: Mapping[str, Handler],
        sessions: async_sessionmaker[AsyncSession],
        outbox: OutboxWriter,
        guard: IdempotencyGuard | None,
        publisher: KafkaPublisher,
        max_attempts: int | None = None,
        retry_backoff_s: float = 0.2,
        max_backoff_s: float = 5.0,
        busy_backoff_s: float = 0.5,
        poll_timeout_ms: int = 500,
        max_records: int = 100,
        claim_ahead: int = 20,
        consumer_options: Mapping[str, Any] | None = None,
    ) -> None:
        if not handlers:
            raise ValueError("a consumer loop needs at least one handler")
        self._settings = settings
        self.name = consumer_name
        self._registry = registry
        self._handlers = dict(handlers)
        self._sessions = sessions
        self._outbox = outbox
        self._guard = guard
        self._publisher = publisher
        self.max_attempts = max_attempts or settings.kafka_max_delivery_attempts
        self._retry_backoff_s = retry_backoff_s
        self._max_backoff_s = max_backoff_s
        self._busy_backoff_s = busy_backoff_s
        self._poll_timeout_ms = poll_timeout_ms
        self._max_records = max_records
        # Claims made per Redis round trip; small enough that a chunk is handled well within
        # the processing TTL, so claims made ahead do not expire while they wait.
        self._claim_ahead = max(1, claim_ahead)
        self._consumer_options = dict(consumer_options or {})
        self.topics = TopicNamer(settings.kafka_topic_prefix)
        # Deployed topic → logical topic; unknown event types raise here, at wiring time.
        self._logical_topics = {
            self.topics.topic(registry.spec(t).topic): registry.spec(t).topic for t in handlers
        }
        self._consumer: AIOKafkaConsumer | None = None
        self._lock = asyncio.Lock()  # held while one message is processed
        self._generation = 0  # bumped on every revoke/assign: abandons a stale fetched batch
        self._pending: dict[TopicPartition, int] = {}
        self._paused_until: dict[TopicPartition, float] = {}
        self._attempts: dict[UUID, _Attempts] = {}
        self._unconfirmed: list[ClaimResult] = []
        self._handled: dict[TopicPartition, int] = {}  # offsets waiting for confirmation
        self._lag_reported: set[TopicPartition] = set()  # partitions with a lag series
        for event_type in self._handlers:
            # Present from the start, so the first dead letter is an increase from 0.
            DEAD_LETTERED_TOTAL.labels(self.name, event_type, ErrorCode.HANDLER_FAILED.value)

    # --- lifecycle ----------------------------------------------------------------------

    @property
    def subscribed_topics(self) -> list[str]:
        return sorted(self._logical_topics)

    @property
    def logical_topics(self) -> list[str]:
        """The registry's names of the consumed topics (without the deployment prefix)."""
        return sorted(set(self._logical_topics.values()))

    async def start(self) -> None:
        if self._consumer is not None:
            return
        await ensure_topics(
            self._settings.kafka_bootstrap_servers,
            [self.topics.dead_letter(t) for t in self._logical_topics.values()],
            partitions=self._settings.kafka_partitions,
        )
        options: dict[str, Any] = {
            "bootstrap_servers": self._settings.kafka_bootstrap_servers,
            "group_id": self.topics.group(self.name),
            "client_id": f"{self._settings.client_id}.{self.name}",
            "enable_auto_commit": False,
            "auto_offset_reset": "earliest",
            "max_poll_records": self._max_records,
            "fetch_max_wait_ms": self._settings.kafka_fetch_max_wait_ms,
            **self._consumer_options,
        }
        consumer = AIOKafkaConsumer(**options)
        consumer.subscribe(topics=self.subscribed_topics, listener=_CommitOnRevoke(self))
        await consumer.start()
        self._consumer = consumer

    async def stop(self) -> None:
        """Commit what was handled, then leave the group."""
        consumer = self._consumer
        if consumer is None:
            return
        try:
            async with self._lock:
                self._consumer = None
                self._generation += 1
                await self._confirm_handled()
                await self._commit_pending(consumer)
        finally:
            # Outside the lock: leaving the group may run the revoke callback, which takes it.
            await consumer.stop()
            self._forget_lag(set(self._lag_reported))

    async def run(self, stop: asyncio.Event) -> None:
        await self.start()
        consumer: AIOKafkaConsumer = self._consumer
        try:
            while not stop.is_set() and self._consumer is not None:
                self._resume_due(consumer)
                try:
                    batch = await consumer.getmany(
                        timeout_ms=self._poll_timeout(), max_records=self._max_records
                    )
                except ConsumerStoppedError:
                    break
                except KafkaError as exc:
                    logger.warning("kafka fetch failed, retrying", error=repr(exc))
                    await self._sleep_unless(stop, 1.0)
                    continue
                if not batch:
                    await self._observe_lag(consumer)
                    continue
                await self._handle_batch(consumer, batch, stop)
                async with self._lock:  # the revoke callback settles under the same lock
                    if self._consumer is not consumer:
                        break  # stopped meanwhile; `stop` settled everything
                    await self._confirm_handled()
                    await self._commit_pending(consumer)
                await self._observe_lag(consumer)
        finally:
            await self.stop()

    # --- one message --------------------------------------------------------------------

    async def process(self, record: ConsumerRecord[bytes, bytes]) -> Outcome:
        """One message through decode, guard, inbox, handler, commit and confirmation.

        Does not touch offsets: the caller commits the offset for a FINISHED outcome and
        consumes the message again otherwise.
        """
        outcome = await self._process(record)
        await self._confirm_handled()
        return outcome

    async def _process(
        self, record: ConsumerRecord[bytes, bytes], prepared: _Prepared | None = None
    ) -> Outcome:
        """`process` without the confirmation: the batch path confirms once per batch."""
        if prepared is None:
            [prepared] = await self._prepare([record])
        logical_topic = self._logical_topics.get(record.topic, record.topic)
        if prepared.error is not None:
            code, message = prepared.error
            return await self._dead_letter(
                record, logical_topic, code, message, envelope=prepared.envelope
            )
        envelope, handler = prepared.envelope, prepared.handler
        assert envelope is not None
        assert handler is not None
        with self._event_context(envelope):
            return await self._process_envelope(
                record, logical_topic, envelope, handler, prepared.claim
            )

    async def _prepare(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> list[_Prepared]:
        """Decode the messages and claim their events in one Redis round trip."""
        prepared = [self._decode(record) for record in records]
        claimable = [p for p in prepared if p.envelope is not None and p.error is None]
        if self._guard is not None and claimable:
            claims = await self._guard.claim_many(
                self.name, [p.envelope.event_id for p in claimable if p.envelope is not None]
            )
            for item, claim in zip(claimable, claims, strict=True):
                item.claim = claim
        return prepared

    def _decode(self, record: ConsumerRecord[bytes, bytes]) -> _Prepared:
        try:
            envelope = self._registry.decode(record.value or b"")
        except UnknownEventTypeError as exc:
            return _Prepared(error=(ErrorCode.UNKNOWN_EVENT_TYPE, f"unknown event type {exc}"))
        except Exception as exc:
            return _Prepared(error=(ErrorCode.MALFORMED_EVENT, f"{type(exc).__name__}: {exc}"))
        handler = self._handlers.get(envelope.event_type)
        if handler is None:
            message = f"no handler for event type {envelope.event_type!r} in {self.name}"
            return _Prepared(envelope, error=(ErrorCode.UNKNOWN_EVENT_TYPE, message))
        return _Prepared(envelope, handler)

    async def _process_envelope(
        self,
        record: ConsumerRecord[bytes, bytes],
        logical_topic: str,
        envelope: EventEnvelope[Any],
        handler: Handler,
        claim: ClaimResult | None,
    ) -> Outcome:
        event_type = envelope.event_type
        started = time.perf_counter()
        if self._guard is not None and claim is not None:
            if claim.state is ClaimState.ALREADY_COMPLETED:
                self._attempts.pop(envelope.event_id, None)
                DUPLICATES_SKIPPED_TOTAL.labels(self.name, event_type, "guard").inc()
                logger.info("duplicate event skipped", layer="guard")
                return Outcome.DUPLICATE
            if claim.state is ClaimState.IN_PROGRESS and self._unconfirmed:
                # Possibly our own handled-but-unconfirmed claim (a duplicate in this batch).
                await self._confirm_handled()
                claim = await self._guard.claim(self.name, envelope.event_id)
                if claim.state is ClaimState.ALREADY_COMPLETED:
                    self._attempts.pop(envelope.event_id, None)
                    DUPLICATES_SKIPPED_TOTAL.labels(self.name, event_type, "guard").inc()
                    logger.info("duplicate event skipped", layer="guard")
                    return Outcome.DUPLICATE
            if claim.state is ClaimState.IN_PROGRESS:
                REDELIVERIES_TOTAL.labels(self.name, event_type, "in_progress").inc()
                logger.info("event claimed by another consumer, consuming it again later")
                return Outcome.BUSY

        earlier = self._attempts.get(envelope.event_id)
        if earlier is not None and earlier.count >= self.max_attempts:
            # Its dead letter could not be published last time: publish, do not handle again.
            await self._release(claim)
            return await self._dead_letter(
                record,
                logical_topic,
                ErrorCode.HANDLER_FAILED,
                earlier.last_error,
                envelope=envelope,
                attempts=earlier.count,
            )

        stage = "inbox"
        try:
            async with UnitOfWork(self._sessions, self._outbox) as uow:
                first_time = await record_inbox(uow.session, self.name, envelope.event_id)
                if first_time:
                    stage = "handler"
                    await handler(envelope, uow)
                    stage = "commit"
                await uow.commit()
        except asyncio.CancelledError:
            await self._release(claim)  # shutting down: let another consumer claim it now
            raise
        except Exception as exc:
            await self._release(claim)
            if stage == "inbox" or (stage == "commit" and _connection_failure(exc)):
                REDELIVERIES_TOTAL.labels(self.name, event_type, "database").inc()
                logger.error("database unavailable, consuming the event again later", exc_info=exc)
                return Outcome.DEFERRED
            return await self._handler_failed(record, logical_topic, envelope, exc)

        return self._committed(envelope, claim, first_time, started)

    def _committed(
        self,
        envelope: EventEnvelope[Any],
        claim: ClaimResult | None,
        first_time: bool,
        started: float,
    ) -> Outcome:
        """Bookkeeping once an event's transaction committed: claim, attempts, metrics."""
        event_type = envelope.event_type
        if claim is not None and claim.state is ClaimState.CLAIMED:
            # Confirmed before the offset commit (`_confirm_handled`).
            self._unconfirmed.append(claim)
        self._attempts.pop(envelope.event_id, None)
        if not first_time:
            DUPLICATES_SKIPPED_TOTAL.labels(self.name, event_type, "inbox").inc()
            logger.info("duplicate event skipped", layer="inbox")
            return Outcome.DUPLICATE
        HANDLING_DURATION.labels(self.name, event_type).observe(time.perf_counter() - started)
        HANDLED_TOTAL.labels(self.name, event_type).inc()
        logger.debug("event handled")
        return Outcome.HANDLED

    def _event_context(self, envelope: EventEnvelope[Any]) -> contextlib.ExitStack:
        """The event's ids (and trace) and this consumer bound to every log line inside."""
        stack = contextlib.ExitStack()
        stack.enter_context(bind_event_context(envelope))
        stack.enter_context(bound_contextvars(consumer=self.name, event_type=envelope.event_type))
        return stack

    async def _confirm_handled(self) -> None:
        """Confirm the claims of committed events in one round trip, then release their offsets.

        Offsets become committable only here, so the order per message is always: transaction
        commit, guard confirmation, offset commit.
        """
        claims, self._unconfirmed = self._unconfirmed, []
        handled, self._handled = self._handled, {}
        if claims and self._guard is not None:
            await self._guard.confirm_many(claims)
        self._pending.update(handled)

    async def _release(self, claim: ClaimResult | None) -> None:
        if claim is not None and self._guard is not None:
            await self._guard.release(claim)

    async def _handler_failed(
        self,
        record: ConsumerRecord[bytes, bytes],
        logical_topic: str,
        envelope: EventEnvelope[Any],
        exc: Exception,
    ) -> Outcome:
        tp = TopicPartition(record.topic, record.partition)
        error = f"{type(exc).__name__}: {exc}"
        previous = self._attempts.get(envelope.event_id)
        attempts = _Attempts(tp, record.offset, (previous.count if previous else 0) + 1, error)
        self._attempts[envelope.event_id] = attempts
        FAILURES_TOTAL.labels(self.name, envelope.event_type).inc()
        logger.warning(
            "handler failed, rolled back",
            attempt=attempts.count,
            max_attempts=self.max_attempts,
            exc_info=exc,
        )
        if attempts.count < self.max_attempts:
            REDELIVERIES_TOTAL.labels(self.name, envelope.event_type, "handler_failed").inc()
            return Outcome.RETRY
        return await self._dead_letter(
            record,
            logical_topic,
            ErrorCode.HANDLER_FAILED,
            error,
            envelope=envelope,
            attempts=attempts.count,
        )

    async def _dead_letter(
        self,
        record: ConsumerRecord[bytes, bytes],
        logical_topic: str,
        code: ErrorCode,
        message: str,
        *,
        envelope: EventEnvelope[Any] | None = None,
        attempts: int = 1,
    ) -> Outcome:
        event_type = (
            envelope.event_type if envelope is not None else self._header_event_type(record)
        )
        error = dead_letter_error(
            code,
            message,
            service=self._settings.service_name,
            consumer=self.name,
            record=record,
            attempts=attempts,
            correlation_id=envelope.correlation_id if envelope is not None else None,
            event_id=envelope.event_id if envelope is not None else None,
            event_type=envelope.event_type if envelope is not None else None,
        )
        try:
            await publish_dead_letter(self._publisher, self.topics, logical_topic, record, error)
        except Exception as exc:
            REDELIVERIES_TOTAL.labels(self.name, event_type, "dead_letter_unavailable").inc()
            logger.error(
                "dead-letter publish failed, consuming the message again later",
                topic=record.topic,
                offset=record.offset,
                exc_info=exc,
            )
            return Outcome.DEFERRED
        if envelope is not None:
            self._attempts.pop(envelope.event_id, None)
        DEAD_LETTERED_TOTAL.labels(self.name, event_type, code.value).inc()
        logger.error(
            "message dead-lettered",
            code=code.value,
            reason=message,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            attempts=attempts,
        )
        return Outcome.DEAD_LETTERED

    def _header_event_type(self, record: ConsumerRecord[bytes, bytes]) -> str:
        """A bounded metric label for a message that could not be decoded."""
        for name, value in record.headers or ():
            if name == "event_type" and value is not None:
                text = value.decode(errors="replace")
                return text if text in self._handlers else "unknown"
        return "unknown"

    # --- batches, offsets, rebalances ---------------------------------------------------

    async def _handle_batch(
        self,
        consumer: AIOKafkaConsumer,
        batch: Mapping[TopicPartition, list[ConsumerRecord[bytes, bytes]]],
        stop: asyncio.Event,
    ) -> None:
        generation = self._generation
        for tp, records in batch.items():
            for start in range(0, len(records), self._claim_ahead):
                chunk = records[start : start + self._claim_ahead]
                prepared = await self._prepare(chunk)
                used = 0
                try:
                    used, finished = await self._handle_chunk(
                        consumer, tp, chunk, prepared, generation, stop
                    )
                finally:
                    # Claims made ahead for messages not processed now: free them at once.
                    await self._release_unused(prepared[used:])
                if not finished:
                    if stop.is_set() or generation != self._generation:
                        return
                    break  # the rest of this partition's records come again after the seek

    async def _handle_chunk(
        self,
        consumer: AIOKafkaConsumer,
        tp: TopicPartition,
        chunk: list[ConsumerRecord[bytes, bytes]],
        prepared: list[_Prepared],
        generation: int,
        stop: asyncio.Event,
    ) -> tuple[int, bool]:
        """Process the chunk in order: (messages whose claim was used, all finished?)."""
        index = 0
        while index < len(chunk):
            if stop.is_set() or generation != self._generation:
                return index, False
            run = self._ready_run(prepared, index)
            async with self._lock:
                if generation != self._generation:
                    return index, False
                outcomes = await self._process_run(
                    chunk[index : index + max(run, 1)], prepared[index : index + max(run, 1)]
                )
                for record, outcome in zip(chunk[index:], outcomes, strict=False):
                    index += 1
                    if outcome not in FINISHED:
                        self._consume_again(consumer, tp, record, outcome)
                        return index, False
                    self._handled[tp] = record.offset + 1
        return len(chunk), True

    def _ready_run(self, prepared: list[_Prepared], start: int) -> int:
        """How many messages from `start` on can share one transaction.

        Ready means decoded, claimed (or the guard is down) and not failed before: anything
        else takes the single-message path, which knows how to skip, wait or dead-letter it.
        """
        end = start
        while end < len(prepared):
            item = prepared[end]
            if item.error is not None or item.envelope is None:
                break
            if item.claim is not None and item.claim.state not in _READY_CLAIMS:
                break
            if item.envelope.event_id in self._attempts:
                break
            end += 1
        return end - start

    async def _process_run(
        self, records: list[ConsumerRecord[bytes, bytes]], prepared: list[_Prepared]
    ) -> list[Outcome]:
        """Outcomes in order, up to the first unfinished: together when there are several."""
        if len(records) == 1:
            return [await self._process(records[0], prepared[0])]
        return await self._process_together(records, prepared)

    async def _process_together(
        self, records: list[ConsumerRecord[bytes, bytes]], prepared: list[_Prepared]
    ) -> list[Outcome]:
        """Ready messages in one transaction; their outcomes, in order, up to the first unfinished.

        A handler that fails rolls the whole transaction back: the messages before it are
        handled again without it, and it alone counts an attempt (so a poison message is
        handled once per delivery, as on the single-message path). A failure that belongs to no
        one message (the database unreachable, a deadlock with another consumer, the inbox rows,
        written for all of them in one statement, or the commit) leaves every message to the
        single-message path.
        """
        started = time.perf_counter()
        first_times: list[bool] = []
        failure: Exception | None = None
        try:
            async with UnitOfWork(self._sessions, self._outbox) as uow:
                event_ids = [item.envelope.event_id for item in prepared if item.envelope]
                recorded = await record_inbox_many(uow.session, self.name, event_ids)
                for item, first_time in zip(prepared, recorded, strict=True):
                    envelope, handler = item.envelope, item.handler
                    assert envelope is not None
                    assert handler is not None
                    if first_time:
                        with self._event_context(envelope):
                            try:
                                await handler(envelope, uow)
                                await uow.session.flush()
                            except Exception as exc:
                                failure = exc
                                break
                    first_times.append(first_time)
                    # The next handler starts from the database, as in a transaction of its own.
                    uow.session.expunge_all()
                else:
                    await uow.commit()
        except Exception as exc:
            logger.warning("shared transaction failed, handling one by one", error=repr(exc))
            return await self._process_one_by_one(records, prepared)

        if failure is not None:
            if not _attributable(failure):
                return await self._process_one_by_one(records, prepared)
            failed = len(first_times)
            outcomes = (
                await self._process_run(records[:failed], prepared[:failed]) if failed else []
            )
            if len(outcomes) < failed or any(o not in FINISHED for o in outcomes):
                return outcomes
            return [
                *outcomes,
                await self._count_failure(records[failed], prepared[failed], failure),
            ]

        outcomes = []
        for item, first_time in zip(prepared, first_times, strict=True):
            assert item.envelope is not None
            with self._event_context(item.envelope):
                outcomes.append(self._committed(item.envelope, item.claim, first_time, started))
        return outcomes

    async def _count_failure(
        self, record: ConsumerRecord[bytes, bytes], item: _Prepared, failure: Exception
    ) -> Outcome:
        """A handler failure met in a shared transaction, counted as on the single path."""
        assert item.envelope is not None
        await self._release(item.claim)
        logical_topic = self._logical_topics.get(record.topic, record.topic)
        with self._event_context(item.envelope):
            return await self._handler_failed(record, logical_topic, item.envelope, failure)

    async def _process_one_by_one(
        self, records: list[ConsumerRecord[bytes, bytes]], prepared: list[_Prepared]
    ) -> list[Outcome]:
        """The single-message path for each message in turn, up to the first unfinished."""
        outcomes: list[Outcome] = []
        for record, item in zip(records, prepared, strict=True):
            outcome = await self._process(record, item)
            outcomes.append(outcome)
            if outcome not in FINISHED:
                break
        return outcomes

    async def _release_unused(self, prepared: list[_Prepared]) -> None:
        if self._guard is None:
            return
        claims = [p.claim for p in prepared if p.claim is not None]
        if claims:
            await self._guard.release_many(claims)

    def _consume_again(
        self,
        consumer: AIOKafkaConsumer,
        tp: TopicPartition,
        record: ConsumerRecord[bytes, bytes],
        outcome: Outcome,
    ) -> None:
        """Seek back to the message and pause its partition for a backoff."""
        if outcome is Outcome.BUSY:
            delay = self._busy_backoff_s
        elif outcome is Outcome.DEFERRED:
            delay = self._max_backoff_s
        else:
            attempts = next(
                (
                    a.count
                    for a in self._attempts.values()
                    if a.partition == tp and a.offset == record.offset
                ),
                1,
            )
            delay = min(self._retry_backoff_s * 2 ** (attempts - 1), self._max_backoff_s)
        try:
            consumer.seek(tp, record.offset)
            consumer.pause(tp)
        except IllegalStateError:
            return  # revoked meanwhile: the new owner starts from the committed offset
        self._paused_until[tp] = time.monotonic() + delay

    def _resume_due(self, consumer: AIOKafkaConsumer) -> None:
        now = time.monotonic()
        assigned = consumer.assignment()
        for tp, until in list(self._paused_until.items()):
            if until <= now:
                del self._paused_until[tp]
                if tp in assigned:
                    consumer.resume(tp)

    async def _observe_lag(self, consumer: AIOKafkaConsumer) -> None:
        """Set the lag of every assigned partition the consumer has fetched from."""
        for tp in consumer.assignment():
            try:
                highwater = consumer.highwater(tp)
                if highwater is None:
                    continue  # not fetched yet: no watermark known
                position = await asyncio.wait_for(consumer.position(tp), timeout=1.0)
            except (AssertionError, IllegalStateError, TimeoutError):
                continue  # revoked meanwhile, or its position is being reset
            logical_topic = self._logical_topics.get(tp.topic, tp.topic)
            LAG.labels(self.name, logical_topic, str(tp.partition)).set(
                partition_lag(highwater, position)
            )
            self._lag_reported.add(tp)

    def _forget_lag(self, partitions: set[TopicPartition]) -> None:
        """Drop the lag series of partitions this consumer no longer owns."""
        for tp in partitions & self._lag_reported:
            logical_topic = self._logical_topics.get(tp.topic, tp.topic)
            with contextlib.suppress(KeyError):
                LAG.remove(self.name, logical_topic, str(tp.partition))
            self._lag_reported.discard(tp)

    def _poll_timeout(self) -> int:
        if not self._paused_until:
            return self._poll_timeout_ms
        wait_ms = int((min(self._paused_until.values()) - time.monotonic()) * 1000)
        return max(0, min(self._poll_timeout_ms, wait_ms))

    async def _commit_pending(
        self, consumer: AIOKafkaConsumer, only: set[TopicPartition] | None = None
    ) -> None:
        """Commit the offsets after the handled messages; a failure means redelivery."""
        assigned = consumer.assignment()
        offsets = {
            tp: offset
            for tp, offset in self._pending.items()
            if tp in assigned and (only is None or tp in only)
        }
        self._pending = {
            tp: offset
            for tp, offset in self._pending.items()
            if tp in assigned and tp not in offsets
        }
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as exc:
            logger.warning(
                "offset commit failed after a rebalance; the messages will be redelivered",
                error=repr(exc),
            )
        except KafkaError as exc:
            logger.warning("offset commit failed, retrying with the next commit", error=repr(exc))
            for tp, offset in offsets.items():
                self._pending.setdefault(tp, offset)

    async def _on_revoked(self, revoked: set[TopicPartition]) -> None:
        self._generation += 1
        self._forget_lag(revoked)
        consumer = self._consumer
        if consumer is None:
            return
        try:
            async with self._lock:
                await self._confirm_handled()
                await self._commit_pending(consumer, only=revoked)
        except Exception as exc:
            logger.warning("commit on revoke failed", error=repr(exc))

    def _on_assigned(self, assigned: set[TopicPartition]) -> None:
        self._generation += 1
        self._paused_until.clear()  # a new assignment starts unpaused
        self._pending = {tp: o for tp, o in self._pending.items() if tp in assigned}
        self._handled = {tp: o for tp, o in self._handled.items() if tp in assigned}
        self._attempts = {e: a for e, a in self._attempts.items() if a.partition in assigned}
        logger.info(
            "partitions assigned", consumer=self.name, partitions=sorted(map(str, assigned))
        )

    @staticmethod
    async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=seconds)

"""The queue worker: N slots take request ids from Redis and answer each request exactly once.

Per request: claim the row (queued → in_flight, with a lease the slot keeps renewing); if the
row already holds an answer, only its callback is due (the provider is never asked twice);
else answer it (deadline, provider choice, texts from content_service, the
ComparisonCaller with its limiter, retries and breaker), then in one transaction persist the
answer, mark the row done or failed and write the callback to the outbox.

Housekeeping (at start and every few seconds) requeues rows whose lease expired, answers
queued rows already past their deadline, and re-adds every queued row to Redis (ZADD NX), so
a Redis that lost its data, an id popped by a slot that died, or an intake that committed
but crashed before its push never loses a request.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar
from uuid import UUID

from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common_core.errors import ErrorCode, ErrorDetail
from common_core.events.llm import LLMComparisonRequest, LLMComparisonResult
from huleedu_service_libs.database import UnitOfWork
from huleedu_service_libs.kafka.topics import ensure_topics
from huleedu_service_libs.logging import get_logger
from llm_provider import metrics
from llm_provider.callbacks import CallbackWriters
from llm_provider.clock import Clock
from llm_provider.comparison_caller import SERVICE_NAME, ComparisonCaller
from llm_provider.domain.circuit_breaker import BreakerState, CircuitBreakers
from llm_provider.domain.costs import ModelManifest, UnknownModelError
from llm_provider.models import RequestState
from llm_provider.providers.base import ComparisonCall
from llm_provider.queue import RequestQueue
from llm_provider.repository import RequestRecord, RequestRepository
from llm_provider.texts import ContentMissingError, ContentUnavailableError, TextSource

_log = get_logger(__name__)
T = TypeVar("T")

_BREAKER_LEVEL = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}


@dataclass(frozen=True)
class WorkerConfig:
    concurrency: int = 8
    lease_s: float = 60.0
    pop_timeout_s: float = 1.0
    housekeeping_interval_s: float = 5.0
    max_claims: int = 5
    default_provider: str = "offline"
    kafka_bootstrap_servers: str | None = None  # to create callback topics outside the registry
    kafka_partitions: int = 3


def error_result(
    request: LLMComparisonRequest,
    code: ErrorCode,
    message: str,
    *,
    provider: str,
    model: str,
    correlation_id: UUID | None,
) -> LLMComparisonResult:
    return LLMComparisonResult(
        request_id=request.request_id,
        batch_id=request.batch_id,
        essay_a_id=request.essay_a_id,
        essay_b_id=request.essay_b_id,
        error=ErrorDetail(
            code=code,
            message=message,
            service=SERVICE_NAME,
            operation="compare",
            correlation_id=correlation_id,
        ),
        provider=provider,
        model=model,
    )


class ComparisonWorker:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        callbacks: CallbackWriters,
        queue: RequestQueue,
        caller: ComparisonCaller,
        providers: Mapping[str, object],
        manifest: ModelManifest,
        breakers: CircuitBreakers,
        texts: TextSource,
        clock: Clock,
        config: WorkerConfig,
    ) -> None:
        self._sessions = sessions
        self._callbacks = callbacks
        self._queue = queue
        self._caller = caller
        self._providers = frozenset(providers)
        self._manifest = manifest
        self._breakers = breakers
        self._texts = texts
        self._clock = clock
        self.config = config
        self._ensured_topics: set[str] = {callbacks.registered_topic}

    # --- running ------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Serve the queue until `stop` is set; each slot finishes the request in hand."""
        await self.housekeeping()
        async with asyncio.TaskGroup() as group:
            for _ in range(self.config.concurrency):
                group.create_task(self._slot(stop))
            group.create_task(self._housekeeping_loop(stop))
        _log.info("comparison_worker_stopped")

    async def _slot(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                request_id = await self._queue.pop(self.config.pop_timeout_s)
            except RedisError:
                _log.warning("queue_unreachable", exc_info=True)
                await asyncio.sleep(1.0)
                continue
            if request_id is None:
                continue
            try:
                await self.process(request_id)
            except Exception:
                # The row keeps its lease; housekeeping requeues it when the lease runs out.
                _log.exception("comparison_failed_unexpectedly", request_id=str(request_id))
                await asyncio.sleep(0.5)

    async def _housekeeping_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.config.housekeeping_interval_s)
            if stop.is_set():
                return
            try:
                await self.housekeeping()
            except Exception:
                _log.exception("queue_housekeeping_failed")

    async def housekeeping(self) -> None:
        """Requeue expired leases, answer overdue requests, rebuild Redis, refresh gauges."""
        now = self._now()
        async with self._sessions.begin() as session:
            expired = await RequestRepository(session).requeue_expired_leases(now)
        if expired:
            metrics.LEASES_REQUEUED.inc(len(expired))
            _log.warning("leases_expired_requeued", count=len(expired))
        async with self._sessions() as session:
            overdue = await RequestRepository(session).overdue_queued(now)
        for request_id in overdue:
            await self.process(request_id)
        restored = await self.rebuild_queue()
        if restored:
            # Also counts ids a slot popped while the page was read: those it drops on claim.
            _log.info("queue_rebuilt_from_database", restored=restored)
        await self.refresh_gauges()

    async def rebuild_queue(self) -> int:
        """ZADD NX every queued row: Redis may have lost them; returns how many were missing."""
        restored = 0
        after: UUID | None = None
        while True:
            async with self._sessions() as session:
                page = await RequestRepository(session).queued(after=after, limit=5000)
            if not page:
                return restored
            restored += await self._queue.push(page)
            after = page[-1].request_id

    async def refresh_gauges(self) -> None:
        async with self._sessions() as session:
            _counts, oldest = await RequestRepository(session).queue_stats()
        metrics.QUEUE_DEPTH.set(await self._queue.depth())
        age = 0.0 if oldest is None else max(0.0, self._clock.wall() - oldest.timestamp())
        metrics.QUEUE_OLDEST_AGE.set(age)
        for provider, state in self._breakers.states().items():
            metrics.BREAKER_STATE.labels(provider).set(_BREAKER_LEVEL[state])

    # --- one request --------------------------------------------------------------------

    async def process(self, request_id: UUID) -> bool:
        """Answer one request if it is still queued; True if this call wrote its callback."""
        record = await self._claim(request_id)
        if record is None:
            return False
        metrics.IN_FLIGHT.inc()
        try:
            # Before the provider is paid: a broker that cannot take the callback fails here.
            await self._ensure_topic(record.callback_topic)
            result = record.result or await self._with_lease(request_id, self._answer(record))
            if result is None:
                return False
            return await self._finish(record, result)
        finally:
            metrics.IN_FLIGHT.dec()

    async def _claim(self, request_id: UUID) -> RequestRecord | None:
        """The row, leased to this slot; None if another slot has it or it is answered.

        Ids reach Redis only after their row commits, so a missing row is an id whose row was
        pruned (or a stray member someone else put in the key): dropped with a warning.
        """
        async with self._sessions() as session:
            # The claim is one statement: in autocommit it costs no BEGIN and COMMIT round trips.
            await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
            repository = RequestRepository(session)
            record = await repository.claim(request_id, lease_until=self._lease_until())
            if record is not None or await repository.exists(request_id):
                return record
        _log.warning("queued_id_without_row_dropped", request_id=str(request_id))
        return None

    async def _answer(self, record: RequestRecord) -> LLMComparisonResult | None:
        """The provider's verdict or an error; None when the request went back to the queue."""
        request = record.request
        preference = request.model_preference
        provider = preference.provider or self.config.default_provider
        model = preference.model or "unknown"

        def failed(code: ErrorCode, message: str) -> LLMComparisonResult:
            return error_result(
                request,
                code,
                message,
                provider=provider,
                model=model,
                correlation_id=record.correlation_id,
            )

        if self._clock.wall() >= request.deadline.timestamp():
            return failed(ErrorCode.DEADLINE_EXCEEDED, "deadline passed before the request ran")
        try:
            spec = self._manifest.resolve(provider, preference.model)
        except UnknownModelError as unknown:
            return failed(ErrorCode.VALIDATION_ERROR, str(unknown.args[0]))
        model = spec.model
        if provider not in self._providers:
            return failed(ErrorCode.LLM_PROVIDER_ERROR, f"provider {provider!r} is not configured")
        if record.attempts > self.config.max_claims:
            return failed(
                ErrorCode.PROCESSING_FAILED, f"gave up after {record.attempts - 1} claims"
            )
        try:
            text_a, text_b = await asyncio.gather(
                self._texts.text(request.essay_a_text_id), self._texts.text(request.essay_b_text_id)
            )
        except ContentMissingError as missing:
            return failed(ErrorCode.CONTENT_UNAVAILABLE, str(missing))
        except ContentUnavailableError as unavailable:
            if record.attempts >= self.config.max_claims:
                # The last claim: fail with the outage itself, not a bare count of claims.
                return failed(
                    ErrorCode.CONTENT_UNAVAILABLE,
                    f"content_service unavailable on all {record.attempts} attempts: {unavailable}",
                )
            async with self._sessions.begin() as session:
                await RequestRepository(session).release(request.request_id)
            return None  # housekeeping puts it back in Redis: a natural back-off
        call = ComparisonCall(
            essay_a_text=text_a,
            essay_b_text=text_b,
            prompt=request.prompt,
            model=spec.model,
            max_tokens=preference.max_tokens or spec.default_max_tokens,
            temperature=preference.temperature,
            request_id=request.request_id,
            essay_a_id=request.essay_a_id,
            essay_b_id=request.essay_b_id,
        )
        deadline = self._clock.monotonic() + (request.deadline.timestamp() - self._clock.wall())
        outcome = await self._caller.compare(provider, call, deadline=deadline)
        metrics.PROVIDER_CALLS.labels(provider, spec.model).inc()
        metrics.RATE_LIMIT_WAIT.labels(provider, spec.model).inc(outcome.rate_limit_wait_s)
        for retry in outcome.retries:
            metrics.RETRIES.labels(provider, retry.kind.value).inc()
        return outcome.to_result(request, correlation_id=record.correlation_id)

    async def _finish(self, record: RequestRecord, result: LLMComparisonResult) -> bool:
        """In one transaction: keep a new answer, mark the row done or failed, write the
        callback. False if another slot took the row over after this one's lease lapsed."""
        answer_is_new = record.result is None
        state = RequestState.DONE if result.error is None else RequestState.FAILED
        writer = self._callbacks.writer_for(record.callback_topic)
        async with UnitOfWork(self._sessions, writer) as uow:
            finished = await RequestRepository(uow.session).finish(
                record.request_id, state, answer=result if answer_is_new else None
            )
            if not finished:
                return False
            await uow.publish(result, correlation_id=record.correlation_id)
            await uow.commit()
        if answer_is_new:
            self._count_usage(result)
        code = "none" if result.error is None else result.error.code.value
        metrics.CALLBACKS.labels(state.value, code).inc()
        return True

    # --- details ------------------------------------------------------------------------

    async def _ensure_topic(self, topic: str) -> None:
        if topic in self._ensured_topics or self.config.kafka_bootstrap_servers is None:
            return
        await ensure_topics(
            self.config.kafka_bootstrap_servers,
            [self._callbacks.deployed_topic(topic)],
            partitions=self.config.kafka_partitions,
        )
        self._ensured_topics.add(topic)

    async def _with_lease(self, request_id: UUID, work: Awaitable[T]) -> T:
        renewer = asyncio.create_task(self._renew_lease(request_id))
        try:
            return await work
        finally:
            renewer.cancel()
            # gather, not suppress: a cancellation of this task itself must still propagate.
            await asyncio.gather(renewer, return_exceptions=True)

    async def _renew_lease(self, request_id: UUID) -> None:
        while True:
            await asyncio.sleep(self.config.lease_s / 3)
            try:
                async with self._sessions.begin() as session:
                    await RequestRepository(session).renew_lease(
                        request_id, lease_until=self._lease_until()
                    )
            except Exception:
                _log.warning("lease_renewal_failed", request_id=str(request_id), exc_info=True)

    def _count_usage(self, result: LLMComparisonResult) -> None:
        metrics.TOKENS.labels(result.provider, "input").inc(result.input_tokens)
        metrics.TOKENS.labels(result.provider, "output").inc(result.output_tokens)
        metrics.TOKENS.labels(result.provider, "cached").inc(result.cached_tokens)
        metrics.COST.labels(result.provider).inc(float(result.cost_usd))

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock.wall(), UTC)

    def _lease_until(self) -> datetime:
        return datetime.fromtimestamp(self._clock.wall() + self.config.lease_s, UTC)

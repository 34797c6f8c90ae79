"""A batch's progress log as one ordered server-sent event stream.

The log kept by result_aggregator is the truth; Redis announcements only say "something new
was recorded". `ProgressCursor` decides what may be sent: each `seq` once, in order, never
past a gap. The stream (`ProgressStream`) subscribes first, then sends the backlog, then
follows the announcements, re-reading the log on a gap and on every idle tick, so an
announcement lost in transit costs one tick of delay and never an event.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable
from contextlib import aclosing
from dataclasses import dataclass

from api_gateway.clients.upstream import UpstreamError
from common_core.progress import ProgressEvent
from huleedu_service_libs.http import HttpError
from huleedu_service_libs.logging import get_logger

HEARTBEAT_FRAME = b": keep-alive\n\n"

_log = get_logger(__name__)

ReadLog = Callable[[int], Awaitable[list[ProgressEvent]]]
"""Reads the recorded events after a `seq`, in order (a page of them, or all)."""


class ProgressCursor:
    """The last `seq` sent, and which events may follow it."""

    def __init__(self, last_seq: int) -> None:
        self.last_seq = last_seq

    def advance(self, events: Iterable[ProgressEvent]) -> tuple[list[ProgressEvent], bool]:
        """The events to send now, in order, and whether some were held back by a gap.

        Events at or before the cursor are duplicates and dropped; the run continuing the
        cursor without a hole is sent; anything after a hole waits for the log to fill it.
        """
        ready: list[ProgressEvent] = []
        gap = False
        for event in sorted(events, key=lambda candidate: candidate.seq):
            if event.seq <= self.last_seq:
                continue
            if event.seq == self.last_seq + 1:
                ready.append(event)
                self.last_seq = event.seq
            else:
                gap = True
                break
        return ready, gap


def event_frame(event: ProgressEvent) -> bytes:
    """`id`, `event` and `data` lines of one event; the JSON holds no raw line breaks."""
    kind = " ".join(event.kind.splitlines()) or "message"
    return f"id: {event.seq}\nevent: {kind}\ndata: {event.model_dump_json()}\n\n".encode()


def retry_frame(milliseconds: int) -> bytes:
    """Tells `EventSource` clients how long to wait before reconnecting."""
    return f"retry: {milliseconds}\n\n".encode()


@dataclass(frozen=True)
class StreamLimits:
    heartbeat_seconds: float
    max_seconds: float
    retry_ms: int


class ProgressStream:
    """One client's stream: backlog after `after`, then live, until `until` or the limit."""

    def __init__(
        self,
        announcements: AsyncIterator[ProgressEvent | None],
        read_log: ReadLog,
        *,
        after: int,
        until: str | None,
        limits: StreamLimits,
    ) -> None:
        self._announcements = announcements
        self._read_log = read_log
        self._cursor = ProgressCursor(after)
        self._until = until
        self._limits = limits
        self._backlog: list[ProgressEvent] = []

    async def open(self) -> None:
        """Subscribe, then read the backlog; errors here (404, 503) are still HTTP answers.

        The first announcement (`None` or an event) arrives once the subscription is
        confirmed, so nothing recorded from now on can be missed.
        """
        try:
            first = await anext(self._announcements)
            if first is not None:
                self._backlog.extend(self._cursor.advance([first])[0])
            self._backlog.extend(await self._read_after_cursor())
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        closer = getattr(self._announcements, "aclose", None)
        if closer is not None:
            await closer()

    async def frames(self) -> AsyncIterator[bytes]:
        """The response body; closes the subscription however the client leaves."""
        try:
            async with aclosing(self._frames()) as frames:
                async for frame in frames:
                    yield frame
        finally:
            await self.close()

    async def _frames(self) -> AsyncGenerator[bytes, None]:
        started = time.monotonic()
        last_write = started
        yield retry_frame(self._limits.retry_ms)
        for event in self._backlog:
            yield event_frame(event)
            if event.kind == self._until:
                return
        async for announcement in self._announcements:
            fresh = await self._fresh(announcement)
            for event in fresh:
                yield event_frame(event)
                last_write = time.monotonic()
                if event.kind == self._until:
                    return
            now = time.monotonic()
            if now - started >= self._limits.max_seconds:
                return
            if now - last_write >= self._limits.heartbeat_seconds:
                yield HEARTBEAT_FRAME
                last_write = now

    async def _fresh(self, announcement: ProgressEvent | None) -> list[ProgressEvent]:
        if announcement is not None:
            ready, gap = self._cursor.advance([announcement])
            if not gap:
                return ready
        try:
            return await self._read_after_cursor()
        except (HttpError, UpstreamError) as error:
            # result_aggregator is briefly away: the next tick reads again from the cursor.
            _log.warning("progress_log_unavailable", error=str(error))
            return []

    async def _read_after_cursor(self) -> list[ProgressEvent]:
        """Everything recorded after the cursor, following pages until one adds nothing."""
        collected: list[ProgressEvent] = []
        while True:
            ready, _ = self._cursor.advance(await self._read_log(self._cursor.last_seq))
            if not ready:
                return collected
            collected.extend(ready)

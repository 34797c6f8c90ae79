"""The ordering rules of live progress, without I/O: each seq once, in order, never past a gap;
and the frames a client parses back into the same events."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from api_gateway.progress_stream import ProgressCursor, event_frame
from hypothesis import given
from hypothesis import strategies as st

from common_core.progress import ProgressEvent
from huleedu_client import EventStreamParser

BATCH = uuid.uuid4()


def event(seq: int, kind: str = "essay.spellchecked") -> ProgressEvent:
    return ProgressEvent(batch_id=BATCH, seq=seq, kind=kind, at=datetime.now(UTC), data={"n": seq})


@given(
    total=st.integers(min_value=1, max_value=40),
    deliveries=st.lists(st.lists(st.integers(min_value=1, max_value=40), max_size=8), max_size=30),
    start=st.integers(min_value=0, max_value=5),
)
def test_cursor_sends_each_seq_once_in_order_whatever_arrives(
    total: int, deliveries: list[list[int]], start: int
) -> None:
    """Announcements in any order, duplicated or missing, then one full log read: the client
    receives exactly start+1..total, ascending."""
    cursor = ProgressCursor(start)
    sent: list[int] = []
    for delivery in deliveries:
        ready, _ = cursor.advance(event(seq) for seq in delivery if seq <= total)
        sent.extend(e.seq for e in ready)
    ready, gap = cursor.advance(event(seq) for seq in range(1, total + 1))
    sent.extend(e.seq for e in ready)
    assert sent == list(range(start + 1, total + 1))
    assert not gap
    assert cursor.last_seq == max(start, total)


def test_cursor_holds_events_behind_a_gap() -> None:
    cursor = ProgressCursor(2)
    ready, gap = cursor.advance([event(5), event(3), event(2)])
    assert [e.seq for e in ready] == [3]
    assert gap
    assert cursor.last_seq == 3


@given(
    kind=st.text(min_size=1, max_size=64).filter(lambda text: text.strip(":")),
    data=st.dictionaries(st.text(max_size=10), st.text(max_size=30), max_size=4),
    seq=st.integers(min_value=1, max_value=10**9),
)
def test_a_frame_parses_back_into_the_event(kind: str, data: dict[str, str], seq: int) -> None:
    """Line breaks in the data (or the kind) never split a frame."""
    original = ProgressEvent(batch_id=BATCH, seq=seq, kind=kind, at=datetime.now(UTC), data=data)
    parser = EventStreamParser()
    parsed = [
        parsed
        for line in event_frame(original).decode().split("\n")
        for parsed in parser.feed(line)
    ]
    assert len(parsed) == 1
    assert parsed[0] is not None
    assert parsed[0].seq == seq
    assert ProgressEvent.model_validate(parsed[0].data) == original

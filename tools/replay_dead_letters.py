"""Replay a dead-letter topic: send each parked record back to the topic it came from.

The consumer loop parks a message it could not handle on `<topic>.dlt` with its value, key and
headers unchanged plus the error (`dead_letter_error`, `dead_letter_code` headers). Once the
cause is fixed (a deployed bug fix, a restored dependency), this sends each record back to
`<topic>` with its original key and headers, the dead-letter headers removed and a
`replayed_from` header added. The original `event_id` header travels with it, so a replayed
event that did take effect after all is recognised as a duplicate by the consumer's guard and
inbox: replaying is safe to repeat.

Progress is kept in a consumer group of its own (`replay-<topic>`, under the deployment
prefix): an offset is committed only after the broker acknowledged the replayed record, so a
second run replays only what was dead-lettered since, and an interrupted run resumes.
Connection settings are the services' own environment variables (KAFKA_BOOTSTRAP_SERVERS,
KAFKA_TOPIC_PREFIX).

    python tools/replay_dead_letters.py --topic huleedu.essay.spellcheck_requested.v1 --dry-run
    python tools/replay_dead_letters.py --all
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from common_core.events import REGISTRY
from huleedu_service_libs.kafka.dead_letter import read_dead_letter
from huleedu_service_libs.kafka.producer import KafkaPublisher
from huleedu_service_libs.kafka.topics import TopicNamer
from huleedu_service_libs.settings import ServiceSettings

REPLAYED_FROM_HEADER = "replayed_from"


@dataclass
class ReplayReport:
    """What one run did with one dead-letter topic."""

    dead_letter_topic: str
    target_topic: str
    replayed: int = 0
    not_dead_letters: int = 0
    codes: dict[str, int] = field(default_factory=dict)


async def replay_topic(
    settings: ServiceSettings,
    logical_topic: str,
    *,
    dry_run: bool = False,
    limit: int | None = None,
    assignment_timeout_s: float = 30.0,
) -> ReplayReport:
    """Replay the records on `logical_topic`'s dead-letter topic that are there right now.

    Records that arrive while it runs are left for the next run. With `dry_run` nothing is
    sent and no offset committed: the report only counts what a real run would replay.
    """
    namer = TopicNamer(settings.kafka_topic_prefix)
    report = ReplayReport(namer.dead_letter(logical_topic), namer.topic(logical_topic))
    consumer = AIOKafkaConsumer(
        report.dead_letter_topic,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=namer.group(f"replay-{logical_topic}"),
        client_id=f"{settings.client_id}-replay",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=settings.kafka_session_timeout_ms,
        heartbeat_interval_ms=max(500, settings.kafka_session_timeout_ms // 5),
    )
    publisher = None if dry_run else KafkaPublisher(settings, REGISTRY)
    await consumer.start()
    try:
        if publisher is not None:
            await publisher.start()
        ends = await _end_offsets(consumer, assignment_timeout_s)
        while await _behind(consumer, ends) and (limit is None or report.replayed < limit):
            batches = await consumer.getmany(timeout_ms=500)
            for partition, records in batches.items():
                done = await _replay_records(publisher, report, records, ends[partition], limit)
                if done is not None and publisher is not None:
                    await consumer.commit({partition: done + 1})
    finally:
        await consumer.stop()
        if publisher is not None:
            await publisher.stop()
    return report


async def _end_offsets(consumer: AIOKafkaConsumer, timeout_s: float) -> dict[TopicPartition, int]:
    """The end of each assigned partition once the group has assigned them."""
    deadline = time.monotonic() + timeout_s
    while not consumer.assignment():
        if time.monotonic() > deadline:
            raise TimeoutError("no partition of the dead-letter topic was assigned")
        # aiokafka joins the group in a background task once started.
        await asyncio.sleep(0.1)
    ends: dict[TopicPartition, int] = await consumer.end_offsets(list(consumer.assignment()))
    return ends


async def _behind(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    for partition, end in ends.items():
        if await consumer.position(partition) < end:
            return True
    return False


async def _replay_records(
    publisher: KafkaPublisher | None,
    report: ReplayReport,
    records: Sequence[ConsumerRecord],
    end: int,
    limit: int | None,
) -> int | None:
    """Replay `records` up to the partition's end at start; returns the last offset handled.

    Without a publisher (a dry run) the records are only counted.
    """
    last: int | None = None
    for record in records:
        if record.offset >= end or (limit is not None and report.replayed >= limit):
            break
        try:
            letter = read_dead_letter(record)
        except ValueError:
            report.not_dead_letters += 1
            last = record.offset
            continue
        code = letter.error.code.value
        report.codes[code] = report.codes.get(code, 0) + 1
        if publisher is not None:
            headers = letter.original_headers
            headers[REPLAYED_FROM_HEADER] = report.dead_letter_topic
            ack = await publisher.send(
                report.target_topic,
                letter.value if letter.value is not None else b"",
                key=letter.key.decode(errors="replace") if letter.key is not None else None,
                headers=headers,
            )
            await ack
        report.replayed += 1
        last = record.offset
    return last


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Replay dead-letter topics to their topics.")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--topic", help="the registry topic name, without prefix or .dlt")
    target.add_argument("--all", action="store_true", help="every topic of the event registry")
    parser.add_argument("--dry-run", action="store_true", help="count, send and commit nothing")
    parser.add_argument("--limit", type=int, default=None, help="at most this many per topic")
    args = parser.parse_args(argv)
    known = sorted(spec.topic for spec in REGISTRY)
    if args.topic is not None and args.topic not in known:
        parser.error(f"{args.topic!r} is not a registry topic; known: {', '.join(known)}")
    settings = ServiceSettings(service_name="replay_dead_letters")
    for topic in known if args.all else [args.topic]:
        report = asyncio.run(replay_topic(settings, topic, dry_run=args.dry_run, limit=args.limit))
        verb = "would replay" if args.dry_run else "replayed"
        codes = ", ".join(f"{code}={n}" for code, n in sorted(report.codes.items())) or "-"
        print(
            f"{report.dead_letter_topic}: {verb} {report.replayed} to {report.target_topic}"
            f" (codes: {codes}; not dead letters: {report.not_dead_letters})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The whole pipeline against the same work done in one process: the platform's overhead.

Starts the platform as real processes (as `make run` does) on its own databases and topic
prefix. For 25, 100 and 300 generated essays of graded quality it registers a batch, uploads
the files, runs `cj_assessment` (spellcheck, then comparative judgement with the offline
judge) and waits until the results are readable through the gateway: that wall time is the
platform's. A Kafka consumer counts the events carrying the batch's key on every topic.

In the same run the same work is done in one process without messaging: every essay
spellchecked with the same checker, the same number of comparisons judged by the same offline
judge on the corrected texts, and one Bradley-Terry fit. The overhead factor is the platform's
wall time over that. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import secrets
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer
from api_gateway.auth import issue_token
from cj_assessment.domain.comparisons import Comparison
from cj_assessment.domain.scaling import fit_bradley_terry
from llm_provider.domain.offline_judge import OfflineJudge
from spellchecker.domain.checker import Spellchecker
from spellchecker.domain.dictionary import english_spellchecker

from common_core.events import REGISTRY
from huleedu_client import TeacherClient, UploadFile
from huleedu_service_libs.kafka.topics import TopicNamer
from huleedu_service_libs.local_infra import Endpoints, LocalInfra
from huleedu_service_libs.local_infra.platform import Platform
from huleedu_service_libs.testing.databases import drop_database

ROOT = Path(__file__).resolve().parents[1]
SIZES = (25, 100, 300)
FINAL = ["completed_successfully", "completed_with_failures", "failed"]
MISSPELL = {"because": "becuase", "their": "thier", "which": "wich", "believe": "beleive",
            "different": "diffrent", "important": "importent", "school": "shcool",
            "students": "studens", "really": "realy", "should": "shuold"}  # fmt: skip


def essay_texts(count: int, seed: int) -> list[str]:
    """`count` distinct essays whose quality varies: length, variety and spelling.

    Built from the bundled sample essays' sentences; a higher tier keeps more sentences, from
    more essays, with fewer misspellings, so the offline judge has a real ranking to find.
    """
    rng = random.Random(seed)
    samples = [p.read_text() for p in sorted((ROOT / "sample" / "essays").glob("*.txt"))]
    sentences = [s.strip() + "." for text in samples for s in text.split(".") if len(s) > 30]
    texts = []
    for number in range(count):
        tier = number % 5
        picked = rng.sample(sentences, 6 + 4 * tier)
        words = " ".join(picked).split()
        error_rate = 0.5 - 0.1 * tier
        words = [MISSPELL.get(w, w) if rng.random() < error_rate else w for w in words]
        texts.append(f"Essay {number} on mobile phones in school.\n\n" + " ".join(words))
    return texts


class EventCounter:
    """Counts the records keyed by a batch on every registry topic of the run's prefix."""

    def __init__(self, bootstrap: str, topics: TopicNamer) -> None:
        names = [topics.topic(logical) for logical in REGISTRY.topics()]
        self._consumer = AIOKafkaConsumer(
            *names,
            bootstrap_servers=bootstrap,
            group_id=topics.group(f"pipeline-bench-{uuid.uuid4().hex[:6]}"),
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        self.by_key: Counter[str] = Counter()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._consumer.start()
        self._task = asyncio.create_task(self._count())

    async def _count(self) -> None:
        async for record in self._consumer:
            if record.key:
                self.by_key[record.key.decode()] += 1

    async def settled_count(self, key: str, quiet_s: float = 3.0) -> int:
        """The key's count once no new record arrived for `quiet_s`."""
        last, stable_since = -1, time.monotonic()
        while time.monotonic() - stable_since < quiet_s:
            await asyncio.sleep(0.5)
            if self.by_key[key] != last:
                last, stable_since = self.by_key[key], time.monotonic()
        return last

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
        await self._consumer.stop()


@dataclass(frozen=True)
class PlatformRun:
    wall_s: float
    ready_s: float
    batch_id: str
    comparisons: int
    phase_s: dict[str, float]


async def platform_run(client: TeacherClient, texts: list[str]) -> PlatformRun:
    """Upload → results readable: the wall time, with where it went."""
    batch_id = str((await client.register_batch(len(texts), course_code="ENG5"))["batch_id"])
    files = [
        UploadFile(f"essay_{n:03}.txt", text.encode(), "text/plain") for n, text in enumerate(texts)
    ]
    started = time.perf_counter()
    for index in range(0, len(files), 50):
        await client.upload_files(batch_id, files[index : index + 50])
    await client.wait_for_status(batch_id, ["ready"], within_s=600)
    ready = time.perf_counter() - started
    await client.start_pipeline(batch_id, "cj_assessment")
    status = await client.wait_for_status(batch_id, FINAL, within_s=1800)
    results = await client.results(batch_id)
    elapsed = time.perf_counter() - started
    if status["status"] == "failed":
        raise RuntimeError(f"the pipeline failed for {len(texts)} essays: {status}")
    phases = {p["phase"]: p["duration_s"] or 0.0 for p in results["timings"]["phases"]}
    return PlatformRun(elapsed, ready, batch_id, int(results["comparisons_completed"]), phases)


def in_process(checker: Spellchecker, texts: list[str], comparisons: int, seed: int) -> float:
    """The same spellchecking and the same number of judgements, fitted once, no messaging.

    The dictionary is loaded before the clock starts, as the spellchecker worker loads it once
    when it starts.
    """
    started = time.perf_counter()
    corrected = [checker.check(text).corrected for text in texts]
    judge = OfflineJudge(seed=seed)
    rng = random.Random(seed)
    judged = []
    for number in range(comparisons):
        a, b = rng.sample(range(len(texts)), 2)
        verdict = judge.judge(corrected[a], corrected[b], noise_key=str(number))
        judged.append(Comparison.judged(a, b, a_won=verdict.winner.value == "essay_a"))
    fit_bradley_terry(len(texts), judged, require_connected=False)
    return time.perf_counter() - started


async def measure(infra: Endpoints, sizes: tuple[int, ...] = SIZES) -> dict[str, Any]:
    run = uuid.uuid4().hex[:8]
    secret = secrets.token_hex(32)
    platform = Platform(
        infra,
        manifest=ROOT / "services" / "platform.toml",
        state_dir=ROOT / ".local" / "bench" / f"pipeline-{run}",
        database_prefix=f"bench{run}",
        topic_prefix=f"bench{run}.",
        redis_prefix=f"bench:{run}",
        # The benchmark polls like a busy teacher; the per-teacher limit is not what it measures.
        extra_env={
            "JWT_SECRET": secret,
            "LOG_LEVEL": "WARNING",
            "RATE_LIMIT_REQUESTS": "100000",
            "RATE_LIMIT_UPLOADS": "100000",
        },
    )
    await platform.start()
    counter = EventCounter(infra.kafka_bootstrap_servers, TopicNamer(f"bench{run}."))
    await counter.start()
    wall: dict[str, float] = {}
    overhead: dict[str, float] = {}
    checker = english_spellchecker()
    try:
        token = issue_token("bench-teacher", secret, 7200)
        async with TeacherClient(platform.urls["api_gateway"], token, timeout=300) as client:
            for size in sizes:
                texts = essay_texts(size, seed=size)
                outcome = await platform_run(client, texts)
                events = await counter.settled_count(outcome.batch_id)
                baseline = in_process(checker, texts, outcome.comparisons, seed=size)
                wall[str(size)] = round(outcome.wall_s, 2)
                overhead[str(size)] = round(outcome.wall_s / baseline, 2)
                print(
                    f"{size:>3} essays: platform {outcome.wall_s:7.2f} s (upload to ready "
                    f"{outcome.ready_s:.1f} s, spellcheck "
                    f"{outcome.phase_s.get('spellcheck', 0):.1f} s, cj "
                    f"{outcome.phase_s.get('cj_assessment', 0):.1f} s), {events} events, "
                    f"{outcome.comparisons} comparisons; in one process {baseline:6.2f} s; "
                    f"overhead {outcome.wall_s / baseline:.2f}x"
                )
    finally:
        await counter.stop()
        platform.stop()
        for database in platform.database_names.values():
            await drop_database(infra.postgres_url, database)
    return {"wall_s": wall, "overhead": overhead}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=list(SIZES), help="batch sizes to run"
    )
    args = parser.parse_args()
    infra = LocalInfra(ROOT / ".local" / "bench").up()
    figures = asyncio.run(measure(infra, tuple(args.sizes)))
    print(json.dumps(figures))

"""How long a teacher waits from the first upload to a batch that is ready.

Starts the platform as real processes (as `make run` does) on its own databases and topic
prefix, then three times: registers a batch of 100, uploads 100 txt essays of about 400
words in 4 requests, and polls the gateway's status until it says `ready`. Reports the p50
of the three waits and the per-essay cost. Last line: one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import statistics
import time
import uuid
from pathlib import Path

from api_gateway.auth import issue_token

from huleedu_client import TeacherClient, UploadFile
from huleedu_service_libs.local_infra import Endpoints, LocalInfra
from huleedu_service_libs.local_infra.platform import Platform
from huleedu_service_libs.testing.databases import drop_database

ROOT = Path(__file__).resolve().parents[1]
ESSAYS = 100
RUNS = 3
REQUESTS = 4
WORDS = 400


def essay_files() -> list[UploadFile]:
    words = " ".join(p.read_text() for p in sorted((ROOT / "sample" / "essays").glob("*.txt")))
    vocabulary = words.split()
    files = []
    for number in range(ESSAYS):
        start = (number * 37) % (len(vocabulary) - WORDS)
        text = f"Essay {number}. " + " ".join(vocabulary[start : start + WORDS])
        files.append(UploadFile(f"essay_{number:03}.txt", text.encode(), "text/plain"))
    return files


async def one_run(client: TeacherClient, files: list[UploadFile]) -> float:
    batch_id = (await client.register_batch(ESSAYS, course_code="ENG5"))["batch_id"]
    per_request = len(files) // REQUESTS
    started = time.perf_counter()
    for index in range(REQUESTS):
        await client.upload_files(batch_id, files[index * per_request : (index + 1) * per_request])
    await client.wait_for_status(batch_id, ["ready"], within_s=300)
    return time.perf_counter() - started


async def measure(infra: Endpoints) -> None:
    run = uuid.uuid4().hex[:8]
    secret = secrets.token_hex(32)
    platform = Platform(
        infra,
        manifest=ROOT / "services" / "platform.toml",
        state_dir=ROOT / ".local" / "bench" / f"intake-{run}",
        database_prefix=f"bench{run}",
        topic_prefix=f"bench{run}.",
        redis_prefix=f"bench:{run}",
        extra_env={"JWT_SECRET": secret, "LOG_LEVEL": "WARNING"},
    )
    await platform.start()
    try:
        files = essay_files()
        async with TeacherClient(
            platform.urls["api_gateway"], issue_token("bench-teacher", secret, 3600), timeout=120
        ) as client:
            waits = []
            for attempt in range(RUNS):
                waits.append(await one_run(client, files))
                print(f"run {attempt + 1}: {ESSAYS} essays upload-to-ready {waits[-1]:.2f} s")
    finally:
        platform.stop()
        for database in platform.database_names.values():
            await drop_database(infra.postgres_url, database)
    p50 = statistics.median(waits)
    print(f"p50 upload-to-ready: {p50:.2f} s; per essay: {p50 / ESSAYS * 1000:.1f} ms")
    print(
        json.dumps(
            {
                "essays": ESSAYS,
                "upload_to_ready_p50_s": round(p50, 3),
                "per_essay_ms": round(p50 / ESSAYS * 1000, 2),
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(measure(LocalInfra(ROOT / ".local" / "bench").up()))

"""`make run`: the whole local platform, a sample batch through it, results shown.

Brings up the infrastructure (or reuses it), starts every service as its own process,
registers the bundled anchor essays (known grades) for the sample assignment, submits the
sample essays through the gateway as a teacher would, waits for the batch to be ready, runs
`cj_assessment` (spellcheck, then comparative judgement with the offline judge) and prints the
ranked results. Then keeps the platform up, printing the teacher's page and a sign-in token,
until Ctrl-C.
"""

from __future__ import annotations

import asyncio
import csv
import secrets
import signal
import sys
import uuid
from pathlib import Path
from typing import Any

from api_gateway.auth import issue_token

from huleedu_client import TeacherClient, UploadFile
from huleedu_service_libs.local_infra import Endpoints, LocalInfra
from huleedu_service_libs.local_infra.__main__ import print_health
from huleedu_service_libs.local_infra.platform import Platform

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample"
TEACHER = "teacher-demo"
TOKEN_TTL_S = 12 * 3600
PIPELINE = "cj_assessment"
FINAL = ["completed_successfully", "completed_with_failures", "failed"]
LIVE_KINDS = ("phase.started", "phase.completed", "cj.ranked", "pipeline.completed")


async def register_anchors(client: TeacherClient) -> str:
    """The sample's graded anchors under a fresh assignment id; returns the id."""
    assignment_id = f"sample-phones-{uuid.uuid4().hex[:8]}"
    with (SAMPLE / "anchors" / "grades.csv").open() as grades:
        for row in csv.DictReader(grades):
            await client.register_anchor(
                assignment_id,
                grade_scale="swedish_f_a",
                grade=row["grade"],
                label=row["file"],
                text=(SAMPLE / "anchors" / row["file"]).read_text(),
            )
    return assignment_id


async def submit_sample(client: TeacherClient) -> tuple[str, dict[str, Any]]:
    essays = sorted((SAMPLE / "essays").glob("*.txt"))
    assignment_id = await register_anchors(client)
    print(f"\nRegistered 5 anchor essays (grades F-A) for assignment {assignment_id}.")
    batch = await client.register_batch(
        len(essays),
        course_code="ENG5",
        title="Sample: mobile phones in Swedish schools",
        essay_instructions=(SAMPLE / "assignment.md").read_text(),
        assignment_id=assignment_id,
    )
    batch_id = str(batch["batch_id"])
    print(f"Registered batch {batch_id} for {len(essays)} essays; uploading...")
    upload = await client.upload_files(batch_id, [UploadFile.from_path(path) for path in essays])
    rejected = [f for f in upload["files"] if f["status"] != "accepted"]
    print(f"Uploaded {len(upload['files'])} files ({len(rejected)} rejected).")
    ready = await client.wait_for_status(batch_id, ["ready", "failed"], within_s=120)
    if ready["status"] != "ready":
        return batch_id, ready
    print(f"Batch is ready; running {PIPELINE} (spellcheck, then comparative judgement)...")
    await client.start_pipeline(batch_id, PIPELINE)
    async with asyncio.timeout(900):
        stream = client.events(batch_id, until="pipeline.completed", read_timeout_s=120)
        async for event in stream:
            if event is not None and event.event in LIVE_KINDS:
                details = event.data.get("data", {}) if isinstance(event.data, dict) else {}
                print(
                    f"  live: {event.event:<18} {details.get('phase') or details.get('status', '')}"
                )
    await client.wait_for_status(batch_id, FINAL, within_s=60)
    return batch_id, await client.results(batch_id)


def print_results(batch_id: str, results: dict[str, Any]) -> None:
    print(f"\nBatch {batch_id}: {results['status']}")
    if "essays" not in results or "timings" not in results:
        print(results)
        return
    comparisons = results.get("comparisons_completed")
    reliability = results.get("reliability")
    print(
        f"  {comparisons} comparisons by the offline judge"
        + (f", reliability {reliability:.2f}" if reliability is not None else "")
    )
    print(f"  {'rank':>4}  {'file':<14} {'grade':<5} {'p':>5}  {'score':>12}  {'errors':>6}  notes")
    for essay in results["essays"]:
        score = essay.get("score")
        shown = "-" if score is None else f"{score:+.2f} ± {essay['standard_error']:.2f}"
        grade_p = essay.get("grade_probability")
        failures = "; ".join(f"{f['phase']}: {f['message']}" for f in essay.get("failures", []))
        print(
            f"  {essay.get('rank') or '-':>4}  {essay.get('file_name') or '-':<14} "
            f"{essay.get('grade') or '-':<5} {'-' if grade_p is None else f'{grade_p:.2f}':>5}  "
            f"{shown:>12}  {essay.get('total_corrections') or 0:>6}  {failures}"
        )
    timings = results["timings"]
    phases = ", ".join(
        f"{p['phase']} {p['duration_s']:.1f} s" for p in timings["phases"] if p.get("duration_s")
    )
    if phases:
        print(f"  timings: {phases}")


async def serve(infra: Endpoints) -> None:
    secret = secrets.token_hex(32)
    platform = Platform(
        infra,
        manifest=ROOT / "services" / "platform.toml",
        state_dir=ROOT / ".local" / "platform",
        extra_env={"JWT_SECRET": secret},
    )
    print("\nStarting services (logs in .local/platform/)...")
    await platform.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        for name, url in platform.urls.items():
            print(f"  {name:<20} {url}")
        gateway = platform.urls["api_gateway"]
        token = issue_token(TEACHER, secret, TOKEN_TTL_S)
        async with TeacherClient(gateway, token) as client:
            print_results(*await submit_sample(client))
        print(f"\nThe platform is up. The teacher's page: {gateway}/")
        print(f"Sign-in token for {TEACHER} (valid 12 h):\n  {token}")
        print("Press Ctrl-C to stop the services (the infrastructure keeps running; `make stop`).")
        await stop.wait()
    finally:
        platform.stop()


def main() -> int:
    infra = LocalInfra(ROOT / ".local" / "infra").up()
    print_health(infra)
    asyncio.run(serve(infra))
    return 0


if __name__ == "__main__":
    sys.exit(main())

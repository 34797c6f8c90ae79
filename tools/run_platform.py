"""`make run`: the whole local platform, a sample batch through it, results shown.

Brings up the infrastructure (or reuses it), starts every service as its own process,
submits the bundled sample essays through the gateway as a teacher would, waits for the
batch to be ready, runs the spellcheck pipeline and prints what the teacher sees. Then keeps
the platform up, printing the gateway's address and a sign-in token, until Ctrl-C.
"""

from __future__ import annotations

import asyncio
import secrets
import signal
import sys
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


async def submit_sample(client: TeacherClient) -> dict[str, Any]:
    essays = sorted((SAMPLE / "essays").glob("*.txt"))
    instructions = (SAMPLE / "assignment.md").read_text()
    batch = await client.register_batch(
        len(essays),
        course_code="ENG5",
        title="Sample: mobile phones in Swedish schools",
        essay_instructions=instructions,
    )
    batch_id = str(batch["batch_id"])
    print(f"\nRegistered batch {batch_id} for {len(essays)} essays; uploading...")
    upload = await client.upload_files(batch_id, [UploadFile.from_path(path) for path in essays])
    rejected = [f for f in upload["files"] if f["status"] != "accepted"]
    print(f"Uploaded {len(upload['files'])} files ({len(rejected)} rejected).")
    ready = await client.wait_for_status(batch_id, ["ready", "failed"], within_s=120)
    if ready["status"] != "ready":
        return ready
    print(f"Batch is ready; running the spellcheck pipeline on {len(essays)} essays...")
    await client.start_pipeline(batch_id, "spellcheck")
    return await client.wait_for_status(
        batch_id, ["completed_successfully", "completed_with_failures", "failed"], within_s=180
    )


def print_status(status: dict[str, Any]) -> None:
    print(f"\nBatch {status['batch_id']}: {status['status']}")
    print(f"  {'file':<16} {'essay state':<20} {'corrections':>11}  by category / failure")
    for essay in status.get("essays", []):
        spellcheck = next((p for p in essay["phases"] if p["phase"] == "spellcheck"), None)
        details = (spellcheck or {}).get("details") or {}
        failure = (spellcheck or {}).get("failure") or essay.get("failure") or {}
        counts = ", ".join(f"{k} {v}" for k, v in details.get("error_counts", {}).items())
        print(
            f"  {essay.get('file_name') or '-':<16} {essay['status']:<20} "
            f"{details.get('total_corrections', '-'):>11}  {counts or failure.get('message', '')}"
        )


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
            print_status(await submit_sample(client))
        print(f"\nThe platform is up. Gateway: {gateway}")
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

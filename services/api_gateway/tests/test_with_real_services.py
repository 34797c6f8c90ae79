"""The gateway against the real services, in-process on free ports with migrated databases:
content_service, file_service (HTTP + relay), batch_orchestrator, essay_lifecycle and
result_aggregator (HTTP + worker) on this run's broker. A teacher registers, sees the slots
appear, uploads, sees the batch become ready with every file name, and reads the results, each
essay's text and the batch's progress; another teacher sees none of it."""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from api_gateway.settings import GatewaySettings
from batch_orchestrator.service import DEFINITION as BOS
from batch_orchestrator.settings import BatchOrchestratorSettings
from content_service.service import DEFINITION as CONTENT
from content_service.settings import ContentSettings
from essay_lifecycle.service import DEFINITION as ELS
from essay_lifecycle.settings import EssayLifecycleSettings
from file_service.service import DEFINITION as FILES
from file_service.settings import FileSettings
from gateway_harness import (  # type: ignore[import-not-found]
    SECRET,
    bearer,
    served_gateway,
    serving,
)
from result_aggregator.service import DEFINITION as RAS
from result_aggregator.settings import ResultAggregatorSettings

from huleedu_service_libs.migrations import upgrade_to_head
from huleedu_service_libs.runtime import ServiceDefinition, build_http_app, run_worker

pytestmark = pytest.mark.integration

WAIT_S = 60.0
ESSAYS = {
    "anna.txt": "My grandmother's garden is the place I love most, with apples and bees.",
    "bertil.txt": "Every summer we sail to a small island where the sea is cold and clear.",
    "cecilia.txt": "The library in our town is quiet, warm and full of stories worth reading.",
}


@dataclass
class RealPlatform:
    urls: dict[str, str]
    workers: list[asyncio.Task[None]]

    def check_workers(self) -> None:
        for task in self.workers:
            if task.done():
                task.result()
                raise RuntimeError("a worker stopped")


@pytest.fixture(scope="module")
async def platform(
    database_factory: Callable[[str], Awaitable[str]],
    settings_factory: Callable[..., Any],
    topic_prefix: str,
) -> AsyncIterator[RealPlatform]:
    run = uuid.uuid4().hex[:8]
    prefix = f"{topic_prefix}gw{run}."
    urls: dict[str, str] = {}
    workers: list[asyncio.Task[None]] = []
    services: list[tuple[ServiceDefinition, type[Any], bool, dict[str, str]]] = [
        (CONTENT, ContentSettings, False, {}),
        (BOS, BatchOrchestratorSettings, True, {}),
        (ELS, EssayLifecycleSettings, True, {}),
        (RAS, ResultAggregatorSettings, True, {}),
        (
            FILES,
            FileSettings,
            True,
            {
                "content_service": "content_service_url",
                "batch_orchestrator": "batch_orchestrator_url",
            },
        ),
    ]
    async with AsyncExitStack() as stack:
        for definition, settings_class, has_worker, calls in services:
            database_url = await database_factory(f"gw_{definition.name}_{run}")
            assert definition.migrations is not None
            await upgrade_to_head(database_url, definition.migrations)
            settings = settings_factory(
                definition.name,
                database_url=database_url,
                settings_class=settings_class,
                kafka_topic_prefix=prefix,
                **{field: urls[callee] for callee, field in calls.items()},
            )
            app = await build_http_app(definition, settings)
            urls[definition.name] = await stack.enter_async_context(serving(app))
            if has_worker:
                workers.append(asyncio.create_task(run_worker(definition, settings)))
        try:
            yield RealPlatform(urls, workers)
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT):  # run_worker installed these
                loop.remove_signal_handler(signum)


@pytest.fixture
async def gateway(
    platform: RealPlatform, settings_factory: Callable[..., Any]
) -> AsyncIterator[httpx.AsyncClient]:
    settings: GatewaySettings = settings_factory(
        "api_gateway",
        settings_class=GatewaySettings,
        jwt_secret=SECRET,
        batch_orchestrator_url=platform.urls["batch_orchestrator"],
        file_service_url=platform.urls["file_service"],
        result_aggregator_url=platform.urls["result_aggregator"],
        content_service_url=platform.urls["content_service"],
    )
    async with served_gateway(settings) as client:
        yield client


async def wait_for_status(
    gateway: httpx.AsyncClient,
    platform: RealPlatform,
    path: str,
    headers: dict[str, str],
    until: Callable[[dict[str, Any]], bool],
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while True:
        platform.check_workers()
        response = await gateway.get(path, headers=headers)
        assert response.status_code == 200, response.text
        view: dict[str, Any] = response.json()
        if until(view):
            return view
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"status never reached the expected state: {view}")
        await asyncio.sleep(0.1)


async def test_a_teacher_registers_uploads_and_sees_the_batch_ready(
    gateway: httpx.AsyncClient, platform: RealPlatform
) -> None:
    teacher = f"teacher-{uuid.uuid4().hex[:8]}"
    colleague = f"{teacher}-colleague"
    registered = await gateway.post(
        "/v1/batches/register",
        json={"expected_essay_count": 3, "course_code": "ENG5", "title": "Places"},
        headers=bearer(teacher),
    )
    assert registered.status_code == 202, registered.text
    batch_id = registered.json()["batch_id"]
    assert registered.json()["status"] == "pending_content"
    status_path = f"/v1/batches/{batch_id}/status"

    slots = await wait_for_status(
        gateway, platform, status_path, bearer(teacher), lambda v: len(v["essays"]) == 3
    )
    assert slots["status"] == "pending_content"
    assert slots["title"] == "Places"
    assert {e["status"] for e in slots["essays"]} == {"awaiting_content"}

    listed = (await gateway.get("/v1/batches", headers=bearer(teacher))).json()
    assert [b["batch_id"] for b in listed["items"]] == [batch_id]
    assert (await gateway.get("/v1/batches", headers=bearer(colleague))).json()["total"] == 0
    assert (await gateway.get(status_path, headers=bearer(colleague))).status_code == 404

    refused = await gateway.post(
        "/v1/files/batch",
        headers=bearer(colleague),
        data={"batch_id": batch_id},
        files=[("files", ("intruder.txt", b"x" * 80, "text/plain"))],
    )
    assert refused.status_code == 404

    upload = await gateway.post(
        "/v1/files/batch",
        headers=bearer(teacher),
        data={"batch_id": batch_id},
        files=[("files", (name, text.encode(), "text/plain")) for name, text in ESSAYS.items()],
    )
    assert upload.status_code == 202, upload.text
    assert [(f["file_name"], f["status"]) for f in upload.json()["files"]] == [
        (name, "accepted") for name in ESSAYS
    ]

    ready = await wait_for_status(
        gateway, platform, status_path, bearer(teacher), lambda v: v["status"] == "ready"
    )
    assert ready["counts"] == {"expected": 3, "provisioned": 3, "failed": 0, "excess": 0}
    assert sorted(e["file_name"] for e in ready["essays"]) == sorted(ESSAYS)
    assert ready["excess_files"] == []
    listed_ready = await gateway.get("/v1/batches?status=ready", headers=bearer(teacher))
    assert [b["batch_id"] for b in listed_ready.json()["items"]] == [batch_id]

    results = await gateway.get(f"/v1/batches/{batch_id}/results", headers=bearer(teacher))
    assert results.status_code == 200, results.text
    by_name = {e["file_name"]: e for e in results.json()["essays"]}
    assert sorted(by_name) == sorted(ESSAYS)
    text = await gateway.get(
        f"/v1/batches/{batch_id}/essays/{by_name['anna.txt']['essay_id']}/text",
        headers=bearer(teacher),
    )
    assert text.status_code == 200, text.text
    assert (text.json()["original_text"], text.json()["corrected_text"]) == (
        ESSAYS["anna.txt"],
        None,
    )
    progress = await gateway.get(f"/v1/batches/{batch_id}/progress", headers=bearer(teacher))
    kinds = [e["kind"] for e in progress.json()["events"]]
    assert kinds[0] == "batch.registered"
    assert kinds.count("file.accepted") == 3
    assert "batch.ready" in kinds
    assert [e["seq"] for e in progress.json()["events"]] == list(range(1, len(kinds) + 1))
    assert (
        await gateway.get(f"/v1/batches/{batch_id}/results", headers=bearer(colleague))
    ).status_code == 404

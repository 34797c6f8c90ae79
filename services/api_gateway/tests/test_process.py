"""`python -m api_gateway migrate|http` as the platform launcher runs it: migrate has nothing to
do, http serves the documented API and readiness (Redis and Kafka), and SIGTERM stops it
cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from typing import Any

import httpx
import pytest
from gateway_harness import wait_until_answering  # type: ignore[import-not-found]

from huleedu_service_libs.local_infra.probes import free_port

pytestmark = pytest.mark.integration


def _environment(infra: Any, redis_prefix: str, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "HTTP_PORT": str(port),
        "REDIS_URL": infra.redis_url,
        "REDIS_KEY_PREFIX": f"{redis_prefix}:process",
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers,
        "ENVIRONMENT": "test",
    }


def test_migrate_has_nothing_to_do_and_succeeds(infra: Any, redis_prefix: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "api_gateway", "migrate"],
        env=_environment(infra, redis_prefix, free_port()),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert b"nothing_to_migrate" in result.stdout + result.stderr


async def test_http_serves_readiness_and_openapi_and_stops_on_sigterm(
    infra: Any, redis_prefix: str
) -> None:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "api_gateway",
        "http",
        env=_environment(infra, redis_prefix, port),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        await wait_until_answering(f"{url}/healthz/live")
        async with httpx.AsyncClient(base_url=url, trust_env=False) as client:
            ready = await client.get("/healthz/ready")
            assert ready.status_code == 200
            assert ready.json()["checks"] == {"redis": "ok", "kafka": "ok"}
            document = (await client.get("/openapi.json")).json()
            assert "bearerAuth" in document["components"]["securitySchemes"]
            pipelines = document["paths"]["/v1/batches/{batch_id}/pipelines"]["post"]
            assert set(pipelines["responses"]) >= {"202", "400", "401", "404", "409", "503"}
            body = pipelines["requestBody"]["content"]["application/json"]["schema"]
            assert body["title"] == "PipelineRequest"
            accepted = pipelines["responses"]["202"]["content"]["application/json"]["schema"]
            assert accepted["title"] == "PipelineAccepted"
            assert set(accepted["required"]) == {"status", "batch_id", "correlation_id"}
            phases = document["components"]["schemas"]["PhaseName"]["enum"]
            assert sorted(phases) == ["cj_assessment", "spellcheck"]
            assert (await client.get("/v1/batches")).status_code == 401
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 15) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

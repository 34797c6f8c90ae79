"""Schemathesis against the gateway's own OpenAPI document: whatever a client sends to any
documented route, valid or not, the gateway never answers with a 5xx."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from api_gateway.service import build_app
from api_gateway.settings import GatewaySettings
from gateway_harness import bearer, serving  # type: ignore[import-not-found]
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err

pytestmark = pytest.mark.integration

EXAMPLES_PER_OPERATION_AND_MODE = 25


def _fuzz(base_url: str, headers: dict[str, str]) -> list[str]:
    """Run every operation in both modes; returns the operations exercised."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    exercised = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=EXAMPLES_PER_OPERATION_AND_MODE,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def call(case: Any) -> None:
                response = case.call(base_url=base_url, headers=headers, timeout=30)
                case.validate_response(response, checks=[not_a_server_error])

            call()
        exercised.append(operation.label)
    return exercised


async def test_no_documented_route_answers_with_a_server_error(
    gateway_settings_factory: Callable[..., GatewaySettings], teacher: str
) -> None:
    gateway_settings = gateway_settings_factory(
        rate_limit_requests=1_000_000, rate_limit_uploads=1_000_000
    )
    async with serving(await build_app(gateway_settings)) as url:
        exercised = await asyncio.to_thread(_fuzz, url, bearer(teacher, ttl=600))
    assert sorted(exercised) == [
        "GET /v1/assignments/{assignment_id}/anchors",
        "GET /v1/batches",
        "GET /v1/batches/{batch_id}/essays/{essay_id}/text",
        "GET /v1/batches/{batch_id}/events",
        "GET /v1/batches/{batch_id}/progress",
        "GET /v1/batches/{batch_id}/results",
        "GET /v1/batches/{batch_id}/status",
        "POST /v1/assignments/{assignment_id}/anchors",
        "POST /v1/batches/register",
        "POST /v1/batches/{batch_id}/pipelines",
        "POST /v1/dev/token",
        "POST /v1/files/batch",
    ]

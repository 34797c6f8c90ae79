"""Fixtures for the gateway's tests: stand-in upstreams served over real HTTP, the gateway app
on this run's Redis, and a fresh teacher per test."""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from api_gateway.settings import GatewaySettings
from quart.testing import QuartClient

sys.path.insert(0, str(Path(__file__).parent))  # lets tests import the helpers next to them

from gateway_harness import SECRET, gateway_client, serving  # type: ignore[import-not-found]
from gateway_stand_ins import StandInPlatform  # type: ignore[import-not-found]


@dataclass(frozen=True)
class StandIns:
    platform: StandInPlatform
    batch_orchestrator: str
    file_service: str
    result_aggregator: str = ""
    content_service: str = ""
    cj_assessment: str = ""


@pytest.fixture(scope="session")
async def stand_ins() -> AsyncIterator[StandIns]:
    """Stand-ins for BOS, file_service, RAS, content_service and cj_assessment, served once per
    run (tests use distinct teachers)."""
    platform = StandInPlatform()
    async with (
        serving(platform.batch_orchestrator()) as bos,
        serving(platform.file_service()) as files,
        serving(platform.cj_assessment()) as cj,
        serving(platform.result_aggregator()) as ras,
        serving(platform.content_service()) as content,
    ):
        yield StandIns(platform, bos, files, ras, content, cj)


@pytest.fixture
def gateway_settings_factory(
    settings_factory: Callable[..., Any], stand_ins: StandIns
) -> Callable[..., GatewaySettings]:
    """Gateway settings on this run's Redis, pointing at the stand-ins unless overridden."""

    def make(**overrides: Any) -> GatewaySettings:
        values: dict[str, Any] = {
            "settings_class": GatewaySettings,
            "jwt_secret": SECRET,
            "batch_orchestrator_url": stand_ins.batch_orchestrator,
            "file_service_url": stand_ins.file_service,
            "result_aggregator_url": stand_ins.result_aggregator,
            "content_service_url": stand_ins.content_service,
            "cj_assessment_url": stand_ins.cj_assessment,
        }
        values.update(overrides)
        settings: GatewaySettings = settings_factory("api_gateway", **values)
        return settings

    return make


@pytest.fixture
async def gateway(
    gateway_settings_factory: Callable[..., GatewaySettings],
) -> AsyncIterator[QuartClient]:
    async with gateway_client(gateway_settings_factory()) as client:
        yield client


@pytest.fixture
def teacher() -> str:
    return f"teacher-{uuid.uuid4().hex[:12]}"

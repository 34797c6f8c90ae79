"""The launcher finds or starts real infrastructure and stops only what it started."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from huleedu_service_libs.local_infra.launcher import Endpoints, LocalInfra
from huleedu_service_libs.local_infra.probes import kafka_ready, postgres_ready, redis_ready

pytestmark = pytest.mark.integration


async def test_run_infrastructure_answers(infra: Endpoints) -> None:
    assert await postgres_ready(infra.postgres_url)
    assert await redis_ready(infra.redis_url)
    assert await kafka_ready(infra.kafka_bootstrap_servers)


async def test_each_database_of_a_run_is_its_own(database_factory, run_id: str) -> None:
    first = await database_factory("iso_a")
    second = await database_factory("iso_b")
    assert first != second
    assert f"t{run_id}_iso_a" in first
    assert await postgres_ready(first)


def test_embedded_fallback_starts_and_stops_only_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("DATABASE_URL", "REDIS_URL", "KAFKA_BOOTSTRAP_SERVERS"):
        monkeypatch.delenv(name, raising=False)
    launcher = LocalInfra(tmp_path / "infra", use_local_servers=False)
    endpoints = launcher.up()
    try:
        assert set(endpoints.started) == {"postgres", "redis", "kafka"}
        assert launcher.status() is not None
        again = launcher.up()  # a second `up` reuses what runs
        assert again.started == endpoints.started
    finally:
        stopped = launcher.down()
    assert sorted(stopped) == ["kafka", "postgres", "redis"]
    for pid in endpoints.started.values():
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert launcher.status() is None

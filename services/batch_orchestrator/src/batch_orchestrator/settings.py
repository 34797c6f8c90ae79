"""batch_orchestrator settings."""

from __future__ import annotations

from pydantic import Field

from huleedu_service_libs.settings import ServiceSettings


class BatchOrchestratorSettings(ServiceSettings):
    service_name: str = "batch_orchestrator"
    phase_timeout_s: float = Field(
        default=900.0, gt=0, description="A dispatched phase without an outcome fails after this."
    )
    phase_monitor_interval_s: float = Field(
        default=30.0, gt=0, description="How often the worker looks for overdue phases."
    )

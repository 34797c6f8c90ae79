"""batch_orchestrator settings."""

from __future__ import annotations

from huleedu_service_libs.settings import ServiceSettings


class BatchOrchestratorSettings(ServiceSettings):
    service_name: str = "batch_orchestrator"

"""result_aggregator settings."""

from __future__ import annotations

from pydantic import Field

from huleedu_service_libs.settings import ServiceSettings


class ResultAggregatorSettings(ServiceSettings):
    service_name: str = "result_aggregator"
    progress_page_max: int = Field(
        default=1000, ge=1, description="Most progress events one read may return."
    )

"""llm_provider settings: queue, providers and guards, all from the environment."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from huleedu_service_libs.settings import ServiceSettings


class LLMProviderSettings(ServiceSettings):
    service_name: str = "llm_provider"
    content_service_url: str = "http://127.0.0.1:8001"
    content_timeout_s: float = 10.0

    queue_concurrency: int = Field(default=8, ge=1, description="Requests in flight at once.")
    queue_lease_s: float = Field(
        default=60.0, gt=0, description="A claimed request not renewed for this long is requeued."
    )
    queue_pop_timeout_s: float = Field(
        default=1.0, gt=0, description="How long an idle worker slot blocks on the queue."
    )
    queue_housekeeping_interval_s: float = Field(
        default=5.0, gt=0, description="Lease reaping, overdue answers and queue rebuild."
    )
    queue_max_claims: int = Field(
        default=5, ge=1, description="Claims (content outages, lost leases) before giving up."
    )

    rate_limit_workers: int = Field(
        default=1,
        ge=1,
        description="Worker processes calling the same provider accounts; each plans with "
        "1/N of every rate limit, so N workers together stay within it.",
    )

    default_provider: str = "offline"
    model_manifest_path: Path | None = None
    offline_seed: int = 0
    offline_position_bias: float = 0.0
    anthropic_api_key: str | None = None
    anthropic_base_url: str | None = None
    openai_api_key: str | None = None
    openai_base_url: str | None = None
    provider_timeout_s: float = 60.0

    retry_max_attempts: int = 5
    retry_base_delay_s: float = 1.0
    retry_max_backoff_s: float = 60.0
    breaker_failure_threshold: int = 5
    breaker_cool_down_s: float = 30.0

"""essay_lifecycle settings."""

from __future__ import annotations

from pydantic import Field

from huleedu_service_libs.settings import ServiceSettings


class EssayLifecycleSettings(ServiceSettings):
    service_name: str = "essay_lifecycle"
    slot_lock_retry_attempts: int = Field(
        default=25,
        ge=1,
        description="Tries of the slot statement while free slots are locked by other workers.",
    )
    slot_lock_retry_base_s: float = Field(
        default=0.01, gt=0, description="First backoff between those tries; doubles, jittered."
    )
    slot_lock_retry_max_s: float = Field(
        default=0.5, gt=0, description="Longest single backoff between those tries."
    )

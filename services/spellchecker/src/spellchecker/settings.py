"""spellchecker settings."""

from __future__ import annotations

from pydantic import Field

from huleedu_service_libs.settings import ServiceSettings


class SpellcheckerSettings(ServiceSettings):
    service_name: str = "spellchecker"
    content_service_url: str = "http://127.0.0.1:8001"
    content_service_timeout_s: float = 30.0
    extra_allowlist: list[str] = Field(
        default_factory=list,
        description="Words never corrected besides the built-in names and places (JSON list).",
    )

"""content_service settings."""

from __future__ import annotations

from huleedu_service_libs.settings import ServiceSettings


class ContentSettings(ServiceSettings):
    service_name: str = "content_service"
    max_content_bytes: int = 25 * 1024 * 1024

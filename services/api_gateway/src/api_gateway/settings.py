"""api_gateway settings: the token secret, per-teacher limits and the services it reads."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator

from huleedu_service_libs.settings import ServiceSettings

DEVELOPMENT_JWT_SECRET = "huleedu-development-only-secret-not-for-production"
"""Lets a fresh checkout run without configuration; refused when `environment=production`."""

MIN_JWT_SECRET_BYTES = 32
"""RFC 7518 §3.2: an HS256 key must be at least as long as the hash output."""


class GatewaySettings(ServiceSettings):
    service_name: str = "api_gateway"

    jwt_secret: SecretStr = SecretStr(DEVELOPMENT_JWT_SECRET)
    jwt_algorithm: Literal["HS256"] = "HS256"
    jwt_leeway_seconds: int = Field(
        default=0, ge=0, le=300, description="Clock skew tolerated on `exp`, `nbf` and `iat`."
    )

    rate_limit_requests: int = Field(
        default=120, ge=1, description="Requests one teacher may make per window."
    )
    rate_limit_uploads: int = Field(
        default=30, ge=1, description="Upload requests one teacher may make per window."
    )
    rate_limit_window_ms: int = Field(default=60_000, ge=100, description="Sliding window length.")

    batch_orchestrator_url: str = "http://127.0.0.1:8001"
    file_service_url: str = "http://127.0.0.1:8003"
    result_aggregator_url: str = "http://127.0.0.1:8004"
    content_service_url: str = "http://127.0.0.1:8005"
    cj_assessment_url: str = "http://127.0.0.1:8006"
    upstream_timeout_seconds: float = Field(default=10.0, gt=0)
    upload_timeout_seconds: float = Field(
        default=120.0, gt=0, description="Forwarded uploads wait for extraction of every file."
    )

    pipeline_publish_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="How long a pipeline request waits for the broker's ack before a 503.",
    )

    max_json_body_bytes: int = Field(default=64 * 1024, ge=1024)
    max_upload_request_bytes: int = Field(
        default=50 * 1024 * 1024,
        ge=1024,
        description="Largest multipart upload accepted (file_service enforces its own limits).",
    )

    progress_poll_seconds: float = Field(
        default=1.0,
        gt=0,
        le=30,
        description="Live progress: how often an idle stream re-reads the batch's log.",
    )
    progress_heartbeat_seconds: float = Field(
        default=15.0, gt=0, description="Live progress: comment sent after this much silence."
    )
    progress_max_stream_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="Live progress: a stream ends after this long; the client resumes it.",
    )
    progress_retry_ms: int = Field(
        default=3000, ge=100, description="Live progress: reconnect delay told to EventSource."
    )
    dev_token_ttl_seconds: int = Field(
        default=8 * 3600,
        ge=60,
        description="Lifetime of tokens from `POST /v1/dev/token` (development and test only).",
    )

    @model_validator(mode="after")
    def _secret_fit_for_environment(self) -> Self:
        secret = self.jwt_secret.get_secret_value()
        if len(secret.encode()) < MIN_JWT_SECRET_BYTES:
            raise ValueError(f"jwt_secret must be at least {MIN_JWT_SECRET_BYTES} bytes")
        if self.environment == "production" and secret == DEVELOPMENT_JWT_SECRET:
            raise ValueError("set JWT_SECRET: the development secret is refused in production")
        return self

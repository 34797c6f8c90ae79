"""Settings every service shares; each service subclasses with its own fields."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Connection and runtime settings read from the environment (12-factor)."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    service_name: str = "huleedu"
    environment: str = "development"
    log_level: str = "INFO"

    http_host: str = "127.0.0.1"
    http_port: int = 8000
    metrics_port: int | None = Field(
        default=None,
        description=(
            "Port on `http_host` where a worker serves /metrics and /healthz/live; None: none."
        ),
    )

    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/huleedu"
    database_pool_size: int = 10

    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_key_prefix: str = "huleedu"

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_topic_prefix: str = Field(
        default="", description="Prepended to every topic: isolates test runs on one broker."
    )
    kafka_client_id: str | None = None
    kafka_acks: str = "all"
    # The dev broker (Tansu) cannot serve InitProducerId, so these stay off unless the
    # operator runs Apache Kafka and turns them on.
    kafka_enable_idempotence: bool = False
    kafka_request_timeout_ms: int = 30_000
    kafka_linger_ms: int = Field(
        default=1, description="Producer batching delay; every ms of it is publish latency."
    )
    kafka_fetch_max_wait_ms: int = Field(
        default=100,
        ge=0,
        description=(
            "Longest a fetch waits for new records. Apache Kafka answers as soon as data "
            "arrives; Tansu (the dev broker) often holds the fetch for the whole wait, so it "
            "bounds every hop's latency there. Lower costs the broker more idle fetches."
        ),
    )
    kafka_session_timeout_ms: int = Field(
        default=10_000, description="How long a silent consumer keeps its partitions."
    )
    kafka_partitions: int = Field(default=3, description="Partitions of topics a worker creates.")
    kafka_max_delivery_attempts: int = Field(
        default=5, description="Attempts before a consumed message goes to the dead-letter topic."
    )
    dead_letter_check_interval_s: float = Field(
        default=60, gt=0, description="How often a worker measures its dead-letter topics."
    )

    outbox_batch_size: int = 500
    outbox_poll_interval_s: float = Field(
        default=1.0, description="Fallback poll when no NOTIFY arrives."
    )
    outbox_max_attempts: int = Field(
        default=10, description="Publish attempts before an outbox row is marked dead."
    )
    outbox_retention_hours: float = Field(
        default=168, gt=0, description="Published outbox rows are deleted after this."
    )
    inbox_retention_hours: float = Field(
        default=336,
        gt=0,
        description="Inbox rows are deleted after this; keep it above the broker's retention.",
    )
    retention_interval_s: float = Field(default=600, gt=0, description="Pause between prunes.")

    @property
    def client_id(self) -> str:
        return self.kafka_client_id or self.service_name

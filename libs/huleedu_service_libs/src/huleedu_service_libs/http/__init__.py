"""The HTTP surface every service shares: app factory, readiness checks, errors, injection."""

from huleedu_service_libs.http.acting_user import (
    MAX_USER_ID_LENGTH,
    USER_ID_HEADER,
    acting_user_id,
)
from huleedu_service_libs.http.app import CORRELATION_ID_HEADER, create_app
from huleedu_service_libs.http.errors import HttpError, error_response
from huleedu_service_libs.http.injection import FromDishka, QuartProvider, inject
from huleedu_service_libs.http.readiness import (
    ReadinessCheck,
    kafka_check,
    postgres_check,
    redis_check,
)
from huleedu_service_libs.logging import current_correlation_id

__all__ = [
    "CORRELATION_ID_HEADER",
    "MAX_USER_ID_LENGTH",
    "USER_ID_HEADER",
    "FromDishka",
    "HttpError",
    "QuartProvider",
    "ReadinessCheck",
    "acting_user_id",
    "create_app",
    "current_correlation_id",
    "error_response",
    "inject",
    "kafka_check",
    "postgres_check",
    "redis_check",
]

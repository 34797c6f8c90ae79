"""Exactly-once effects under at-least-once delivery: a Redis guard and a database inbox."""

from huleedu_service_libs.idempotency.guard import ClaimResult, ClaimState, IdempotencyGuard
from huleedu_service_libs.idempotency.inbox import (
    create_inbox_schema,
    create_inbox_table,
    drop_inbox_table,
    inbox_table,
    include_inbox,
    record_inbox,
    record_inbox_many,
)

__all__ = [
    "ClaimResult",
    "ClaimState",
    "IdempotencyGuard",
    "create_inbox_schema",
    "create_inbox_table",
    "drop_inbox_table",
    "inbox_table",
    "include_inbox",
    "record_inbox",
    "record_inbox_many",
]

"""Transactional outbox: events are rows written with the state change, published by a relay."""

from huleedu_service_libs.outbox.metrics import OutboxMetrics, outbox_metrics
from huleedu_service_libs.outbox.migration import (
    create_outbox_schema,
    create_outbox_table,
    drop_outbox_table,
)
from huleedu_service_libs.outbox.relay import OutboxRelay, OutboxStats, RoundResult
from huleedu_service_libs.outbox.table import (
    OUTBOX_NOTIFY_CHANNEL,
    OUTBOX_TABLE_NAME,
    include_outbox,
    outbox_table,
)
from huleedu_service_libs.outbox.writer import OutboxWriter

__all__ = [
    "OUTBOX_NOTIFY_CHANNEL",
    "OUTBOX_TABLE_NAME",
    "OutboxMetrics",
    "OutboxRelay",
    "OutboxStats",
    "OutboxWriter",
    "RoundResult",
    "create_outbox_schema",
    "create_outbox_table",
    "drop_outbox_table",
    "include_outbox",
    "outbox_metrics",
    "outbox_table",
]

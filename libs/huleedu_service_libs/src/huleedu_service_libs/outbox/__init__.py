"""Transactional outbox: events are rows written with the state change, published by a relay."""

from huleedu_service_libs.outbox.table import OUTBOX_NOTIFY_CHANNEL, outbox_table
from huleedu_service_libs.outbox.writer import OutboxWriter

__all__ = ["OUTBOX_NOTIFY_CHANNEL", "OutboxWriter", "outbox_table"]

"""ELS tables: registered batches, their essay slots, content waiting for or beyond its slots.

Each uploaded file appears at most once in each of `essays`, `pending_content` and
`excess_content` (unique `file_upload_id`), so a redelivered upload can never take a second
slot; two different uploads with identical text are two files and get two slots.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from common_core.status import EssayStatus, PhaseName
from essay_lifecycle.domain.intake import UploadKind
from huleedu_service_libs.database import enum_type
from huleedu_service_libs.idempotency.inbox import include_inbox
from huleedu_service_libs.outbox.table import include_outbox

metadata = MetaData()

essay_status = enum_type(EssayStatus, "essay_status")
upload_kind = enum_type(UploadKind, "upload_kind")
phase_name = enum_type(PhaseName, "phase_name")

batches = Table(
    "batches",
    metadata,
    Column("batch_id", UUID(as_uuid=True), primary_key=True),
    Column("user_id", Text, nullable=False),
    Column("expected_essay_count", Integer, nullable=False),
    Column("course_code", Text, nullable=False),
    Column("language", Text, nullable=False),
    Column("essay_instructions", Text, nullable=False),
    Column("assignment_id", Text, nullable=True),
    Column("correlation_id", UUID(as_uuid=True), nullable=False),
    Column("registered_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Set in the transaction that emits the completion events: its presence means "emitted".
    Column("intake_completed_at", DateTime(timezone=True), nullable=True),
)

essays = Table(
    "essays",
    metadata,
    Column("essay_id", UUID(as_uuid=True), primary_key=True),
    Column(
        "batch_id",
        UUID(as_uuid=True),
        ForeignKey("batches.batch_id", name="essays_batch_id_fkey"),
        nullable=False,
    ),
    Column("slot_index", Integer, nullable=False),
    Column("status", essay_status, nullable=False),
    Column("file_upload_id", UUID(as_uuid=True), nullable=True),
    Column("original_file_name", Text, nullable=True),
    Column("text_id", Text, nullable=True),
    Column("raw_file_id", Text, nullable=True),
    Column("failure_code", Text, nullable=True),
    Column("failure_message", Text, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Also the index of the free-slot look-up (batch, then slot order).
    UniqueConstraint("batch_id", "slot_index", name="essays_batch_id_slot_index_key"),
    UniqueConstraint("file_upload_id", name="essays_file_upload_id_key"),
)


def _upload_columns() -> list[Column[object]]:
    """Columns an upload keeps while it waits for a slot or after it found none."""
    return [
        Column("file_upload_id", UUID(as_uuid=True), primary_key=True),
        Column("batch_id", UUID(as_uuid=True), nullable=False),
        Column("kind", upload_kind, nullable=False),
        Column("original_file_name", Text, nullable=False),
        Column("text_id", Text, nullable=True),
        Column("raw_file_id", Text, nullable=True),
        Column("failure_code", Text, nullable=True),
        Column("failure_message", Text, nullable=True),
        Column("correlation_id", UUID(as_uuid=True), nullable=False),
    ]


pending_content = Table(
    "pending_content",
    metadata,
    *_upload_columns(),
    # Arrival order: pending uploads take slots oldest first when the registration arrives.
    Column("arrival", BigInteger, Identity(always=False), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_pending_content_batch_arrival", "batch_id", "arrival"),
)

excess_content = Table(
    "excess_content",
    metadata,
    *_upload_columns(),
    Column("arrival", BigInteger, Identity(always=False), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_excess_content_batch_arrival", "batch_id", "arrival"),
)

batch_phases = Table(
    "batch_phases",
    metadata,
    Column(
        "batch_id",
        UUID(as_uuid=True),
        ForeignKey("batches.batch_id", name="batch_phases_batch_id_fkey"),
        primary_key=True,
    ),
    Column("phase", phase_name, primary_key=True),
    # The command's correlation id: the phase's outcome carries it, whichever result ends it.
    Column("correlation_id", UUID(as_uuid=True), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Set in the transaction that emits ELSBatchPhaseOutcome: its presence means "emitted".
    Column("outcome_emitted_at", DateTime(timezone=True), nullable=True),
)

phase_essays = Table(
    "phase_essays",
    metadata,
    Column("batch_id", UUID(as_uuid=True), primary_key=True),
    Column("phase", phase_name, primary_key=True),
    # No foreign key to `essays`: an essay ELS does not know still enters (and fails) the phase.
    Column("essay_id", UUID(as_uuid=True), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("status", essay_status, nullable=False),
    Column("input_text_id", Text, nullable=False),
    Column("new_text_id", Text, nullable=True),
    Column("failure_code", Text, nullable=True),
    Column("failure_message", Text, nullable=True),
    # The full ErrorDetail as reported, so the outcome repeats it exactly.
    Column("error", JSONB, nullable=True),
    # What the phase reported about a succeeded essay (spellcheck: error counts by category).
    Column("details", JSONB, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    ForeignKeyConstraint(
        ["batch_id", "phase"],
        ["batch_phases.batch_id", "batch_phases.phase"],
        name="phase_essays_batch_phase_fkey",
    ),
    Index("ix_phase_essays_essay_id", "essay_id"),
)

include_outbox(metadata)
include_inbox(metadata)

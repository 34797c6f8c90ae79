"""Models of a tiny sample service: what the drift guard and migration check are tested on."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import UUID

from huleedu_service_libs.database import enum_type


class EssayStatus(StrEnum):
    AWAITING_CONTENT = "awaiting_content"
    READY = "ready"
    SPELLCHECKED = "spellchecked"
    FAILED = "failed"


class BatchPhase(StrEnum):
    SPELLCHECK = "spellcheck"
    CJ_ASSESSMENT = "cj_assessment"


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

batches = Table(
    "batches",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("name", Text, nullable=False),
    Column(
        "current_phase",
        enum_type(BatchPhase, "batch_phase"),
        nullable=True,
    ),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

essays = Table(
    "essays",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column(
        "batch_id",
        UUID(as_uuid=True),
        ForeignKey("batches.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("slot", Integer, nullable=False),
    Column(
        "status",
        enum_type(EssayStatus, "essay_status"),
        nullable=False,
    ),
    Column("word_count", Integer, nullable=True),
    UniqueConstraint("batch_id", "slot"),
)
